import type { DataSubjectRequestBody } from '@parley/protocol';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  alertChannels,
  createAlerting,
  SIGNATURE_HEADER,
  verifyAlertSignature,
} from '../../src/alerting/index.ts';
import {
  auditCheckpointCondition,
  dsrDeadlineConditions,
  keyAgeCondition,
} from '../../src/alerting/cluster-conditions.ts';
import { certificateCondition, databaseCondition } from '../../src/alerting/node-conditions.ts';
import type { Storage } from '../../src/storage/database.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { json, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

const DAY_MS = 24 * 3600 * 1000;
const SECRET = 'alert-webhook-secret-for-tests-0123456789';
const OPERATOR = 'oncall@operator.example';

interface HookBody {
  delivery: string;
  id: string;
  status: 'firing' | 'resolved';
  repeat: boolean;
  key: string;
  condition: string;
  node: string | null;
  summary: string;
}

describeEachDialect('embedded alerting', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let smtp: SmtpSink;
  let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;

  const fileRequest = async (daysAgo: number) => {
    const response = await server.request(
      '/v1/privacy/requests',
      json(
        {
          subjectId: owner.userId,
          kind: 'access',
          receivedAt: new Date(Date.now() - daysAgo * DAY_MS).toISOString(),
        },
        owner.accessToken,
      ),
    );
    expect(response.status, response.text).toBe(201);
    return response.json<DataSubjectRequestBody>();
  };
  const hookBodies = () => hooks.received.map((hook) => JSON.parse(hook.body) as HookBody);

  /** An alerting over the server's database with its own clock: a restarted node is a new one of these. */
  const alertingAt = (
    clock: { now(): number },
    storage: Storage = server.app.storage,
    repeatSeconds = 3600,
  ) => {
    const settings = {
      emails: [OPERATOR],
      smtpUrl: smtp.url,
      mailFrom: 'Parley <alerts@localhost>',
      webhookUrl: hooks.url,
      webhookSecret: SECRET,
      clusterCron: '* * * * *',
      nodeIntervalMs: 60_000,
      repeatMs: repeatSeconds * 1000,
    };
    const alerting = createAlerting({
      storage,
      clock,
      logger: server.app.logger,
      nodeId: 'node-a',
      channels: alertChannels(settings, clock),
      settings,
    });
    for (const condition of dsrDeadlineConditions(storage, 5)) alerting.register(condition);
    return alerting;
  };

  beforeAll(async () => {
    smtp = await startSmtpSink();
    hooks = await startWebhookReceiver();
    server = await startTestServer({
      dialect,
      env: {
        PARLEY_SMTP_URL: smtp.url,
        PARLEY_ALERT_EMAIL: OPERATOR,
        PARLEY_ALERT_WEBHOOK_URL: hooks.url,
        PARLEY_ALERT_WEBHOOK_SECRET: SECRET,
        // The test evaluates when it chooses; the server's own schedule stays out of its way.
        PARLEY_ALERT_CRON: '0 0 1 1 *',
        PARLEY_ALERT_NODE_INTERVAL_SECONDS: '3600',
      },
    });
    owner = await newTenantOwner(server, 'Alerting Inc');
  });

  afterAll(async () => {
    await server.close();
    await hooks.close();
    await smtp.close();
  });

  beforeEach(() => {
    smtp.clear();
    hooks.received.length = 0;
    hooks.answer(200);
  });

  it('a data subject request near its deadline is notified once by e-mail and signed webhook, naming the request, not the person', async () => {
    const request = await fileRequest(27);
    await server.app.alerting?.evaluateCluster();
    const mails = smtp.to(OPERATOR, /FIRING warning: dsr_deadline_near/);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.text).toContain(request.id);
    const notices = hookBodies().filter((body) => body.key === `dsr_deadline_near:${request.id}`);
    expect(notices).toMatchObject([
      { status: 'firing', repeat: false, condition: 'dsr_deadline_near', node: null },
    ]);
    for (const hook of hooks.received) {
      const check = verifyAlertSignature(
        SECRET,
        hook.headers[SIGNATURE_HEADER] as string,
        hook.body,
        Date.now() / 1000,
      );
      expect(check.ok).toBe(true);
    }
    // No personal data: not the subject's address, nor their name, in any notice.
    for (const text of [
      ...smtp.mails.map((mail) => `${mail.subject}\n${mail.text}`),
      ...hooks.received.map((hook) => hook.body),
    ]) {
      expect(text).not.toContain(owner.email);
      expect(text).not.toContain(owner.userId);
    }
    // De-duplication: evaluated again (by this node or a restarted one), nothing new goes out.
    smtp.clear();
    hooks.received.length = 0;
    await server.app.alerting?.evaluateCluster();
    await alertingAt({ now: () => Date.now() }).evaluateCluster();
    expect(smtp.mails).toHaveLength(0);
    expect(hooks.received).toHaveLength(0);
  });

  it('a still-firing alert is repeated after the repeat interval, and a resolved notice follows when it clears', async () => {
    const request = await fileRequest(26);
    let now = Date.now();
    const clock = { now: () => now };
    const alerting = alertingAt(clock);
    await alerting.evaluateCluster();
    const key = `dsr_deadline_near:${request.id}`;
    expect(hookBodies().filter((body) => body.key === key)).toHaveLength(1);
    now += 1800 * 1000;
    await alertingAt(clock).evaluateCluster(); // a restart within the interval: nothing
    expect(hookBodies().filter((body) => body.key === key)).toHaveLength(1);
    now += 1900 * 1000;
    await alerting.evaluateCluster();
    expect(
      hookBodies()
        .filter((body) => body.key === key)
        .map((body) => body.repeat),
    ).toEqual([false, true]);
    expect(
      smtp
        .to(OPERATOR, /STILL FIRING warning: dsr_deadline_near/)
        .filter((mail) => mail.text.includes(request.id)),
    ).toHaveLength(1);
    // Ten days on, the request is past its deadline: "near" resolves and "passed" fires.
    now += 10 * DAY_MS;
    hooks.received.length = 0;
    await alerting.evaluateCluster();
    expect(hookBodies().filter((body) => body.key === key)).toMatchObject([{ status: 'resolved' }]);
    expect(hookBodies().filter((body) => body.key === `dsr_deadline_passed:${request.id}`)).toMatchObject([
      { status: 'firing' },
    ]);
    expect(
      smtp
        .to(OPERATOR, /RESOLVED warning: dsr_deadline_near/)
        .filter((mail) => mail.text.includes(request.id)),
    ).toHaveLength(1);
  });

  it('a notice the webhook refused is sent again at the next evaluation, and only then recorded as sent', async () => {
    let down = false;
    const clock = { now: () => Date.now() };
    const alerting = alertingAt(clock);
    alerting.register(
      databaseCondition(() => (down ? Promise.reject(new Error('gone')) : Promise.resolve())),
    );
    down = true;
    hooks.answer(503);
    await alerting.evaluateNode();
    expect(hookBodies().map((body) => body.key)).toEqual(['database_unreachable@node-a']);
    hooks.answer(200);
    await alerting.evaluateNode();
    await alerting.evaluateNode();
    expect(hookBodies().map((body) => body.key)).toEqual([
      'database_unreachable@node-a',
      'database_unreachable@node-a',
    ]);
    down = false;
    await alerting.evaluateNode();
    expect(hookBodies().at(-1)).toMatchObject({ key: 'database_unreachable@node-a', status: 'resolved' });
    await alerting.stop();
  });

  it('while the database is away a node still notifies, and records the alert once it is back', async () => {
    let away = true;
    const storage = server.app.storage;
    const flaky: Storage = {
      ...storage,
      withSystem: (work) => (away ? Promise.reject(new Error('database away')) : storage.withSystem(work)),
    };
    const alerting = alertingAt({ now: () => Date.now() }, flaky);
    alerting.register(
      databaseCondition(() => (away ? Promise.reject(new Error('gone')) : Promise.resolve())),
    );
    await alerting.evaluateNode();
    expect(smtp.to(OPERATOR, /FIRING critical: database_unreachable on node-a/)).toHaveLength(1);
    away = false;
    await alerting.evaluateNode();
    expect(smtp.to(OPERATOR, /RESOLVED critical: database_unreachable/)).toHaveLength(1);
    const row = await storage.withSystem((tx) =>
      tx
        .selectFrom('alert_states')
        .selectAll()
        .where('key', '=', 'database_unreachable@node-a')
        .executeTakeFirst(),
    );
    expect(row).toMatchObject({ status: 'resolved', node_id: 'node-a' });
  });

  it('keys older than the rotation period fire, one alert per key, naming versions and ids only', async () => {
    const condition = keyAgeCondition(server.app.storage, 365);
    expect(await condition.evaluate(Date.now())).toEqual([]);
    const findings = await condition.evaluate(Date.now() + 400 * DAY_MS);
    const subjects = findings.map((finding) => finding.subject);
    expect(subjects).toContain('master');
    expect(subjects).toContain(`tenant.${owner.tenantId}.data`);
    expect(subjects.some((subject) => subject?.startsWith('signing.'))).toBe(true);
  });

  it('an audit chain left unsigned for three checkpoint intervals fires as overdue', async () => {
    const condition = auditCheckpointCondition(server.app.storage, 60);
    // The owner's sign-in and the requests above wrote entries after the chain was sealed at creation.
    const later = await condition.evaluate(Date.now() + 3600 * 1000);
    expect(later.map((finding) => finding.subject)).toContain(owner.tenantId);
  });

  it('a certificate that expires within 14 days fires', async () => {
    const certFile = server.app.tls?.certFile;
    if (certFile === undefined) throw new Error('the test server serves TLS');
    const condition = certificateCondition(certFile, 14);
    expect(await condition.evaluate(Date.now())).toEqual([]);
    const far = Date.now() + 20 * 365 * DAY_MS;
    expect((await condition.evaluate(far))[0]?.summary).toMatch(/expired/);
  });
});

/**
 * Attack: someone who can reach the operator's webhook endpoint posts a forged "resolved" notice to silence
 * an alert, or replays a captured notice later. The documented check refuses both.
 */
describe('alert webhook signature', () => {
  const body = JSON.stringify({ version: 1, delivery: 'd-1', status: 'firing', key: 'redis_down@node-a' });
  const now = 1_800_000_000;

  it('accepts a notice signed with the shared secret within the window', async () => {
    const { signAlertBody } = await import('../../src/alerting/alert-signature.ts');
    expect(verifyAlertSignature(SECRET, signAlertBody(SECRET, body, now), body, now + 10)).toMatchObject({
      ok: true,
    });
  });

  it('refuses a changed body, a wrong secret, a missing header, and a replay outside the window', async () => {
    const { signAlertBody } = await import('../../src/alerting/alert-signature.ts');
    const header = signAlertBody(SECRET, body, now);
    const forged = body.replace('firing', 'resolved');
    expect(verifyAlertSignature(SECRET, header, forged, now)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyAlertSignature(SECRET, signAlertBody('x'.repeat(40), forged, now), forged, now)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifyAlertSignature(SECRET, undefined, body, now)).toEqual({ ok: false, reason: 'malformed' });
    // The timestamp is under the MAC: changing it to look fresh breaks the signature.
    const refreshed = header.replace(`t=${now}`, `t=${now + 3600}`);
    expect(verifyAlertSignature(SECRET, refreshed, body, now + 3600)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifyAlertSignature(SECRET, header, body, now + 301)).toEqual({ ok: false, reason: 'expired' });
  });
});
