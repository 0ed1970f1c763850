import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_CHAIN_ID } from '../../../src/compliance/audit/audit-entry.ts';
import type { AuditInput } from '../../../src/compliance/audit/audit-entry.ts';
import { readOutbox } from '../../../src/notifications/outbox-mailer.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import {
  bearer,
  json,
  memberPassword,
  newMember,
  newTenantOwner,
  ownerPassword,
  type SignedIn,
  signIn,
} from '../../support/identity-fixtures.ts';
import { ManualClock, newStaff, type SignedInStaff } from '../../support/staff-fixtures.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';

const HOUR = 3600_000;

/**
 * Incidents (issue 18, point 1): a security officer opens an incident, scopes it from the audit log against a
 * ground truth built here, notifies tenants and users once each against the clocks, and closes it only with
 * an RCA and every corrective action done. The clock is the server's, moved by hand.
 */
describeEachDialect('incidents', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock();
  let officer: SignedInStaff;
  let a: SignedIn;
  let b: SignedIn;
  let c: SignedIn;
  let a1: { userId: string; token: string };
  let a2: { userId: string; token: string };
  let b1: { userId: string; token: string };
  let windowFrom: number;
  let windowTo: number;
  const attackerSession = 'sess-attacker-1';
  const attackerIp = '203.0.113.9';
  const attackerClient = 'client-compromised';

  const append = (tenantId: string, input: AuditInput) =>
    server.app.storage.withTenant(tenantId, (tx) => server.app.services.audit.append(tx, tenantId, input));
  const asOfficer = (path: string, body?: unknown, method = 'POST') =>
    server.request(
      path,
      body === undefined ? bearer(officer.accessToken, method) : json(body, officer.accessToken, method),
    );
  const incidentMail = (tenantId: string) =>
    server.app.storage.withTenant(tenantId, (tx) =>
      readOutbox(tx, server.app.security.fieldCipher, tenantId, 200).then((rows) =>
        rows.filter((row) => row.kind === 'incident_notice'),
      ),
    );
  const platformActions = async () =>
    (
      await server.app.storage.withTenant(PLATFORM_CHAIN_ID, (tx) =>
        server.app.services.audit.query(
          tx,
          PLATFORM_CHAIN_ID,
          { action: 'incident.*' },
          { limit: 500, order: 'asc' },
        ),
      )
    ).entries.map((entry) => entry.action);

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
    officer = await newStaff(server, 'security_officer', clock);
    a = await newTenantOwner(server, 'Tenant A');
    b = await newTenantOwner(server, 'Tenant B');
    c = await newTenantOwner(server, 'Tenant C');
    a1 = await newMember(server, a, 'ann@a.example');
    a2 = await newMember(server, a, 'abe@a.example');
    b1 = await newMember(server, b, 'bea@b.example');
    const bystander = await newMember(server, b, 'bob@b.example');

    // The ground truth. Before the window: an attacker-session entry that must not count.
    clock.advance(HOUR);
    await append(a.tenantId, {
      actor: { type: 'user', id: a1.userId, sessionId: attackerSession },
      action: 'attachment.downloaded',
      target: { type: 'attachment', id: 'att-1' },
      outcome: 'success',
    });
    clock.advance(HOUR);
    windowFrom = clock.now();
    // Inside: the attacker's session reads a message of a1; a2 acts from the attacker's address; the
    // compromised client changes b1; an unrelated act in B.
    await append(a.tenantId, {
      actor: { type: 'user', id: a1.userId, sessionId: attackerSession },
      action: 'message.exported',
      target: { type: 'message', id: 'msg-1' },
      outcome: 'success',
    });
    await append(a.tenantId, {
      actor: { type: 'user', id: a2.userId, sessionId: 'sess-a2' },
      action: 'dialog.read',
      target: { type: 'dialog', id: 'dlg-1' },
      outcome: 'success',
      ip: attackerIp,
    });
    await append(b.tenantId, {
      actor: { type: 'client', id: attackerClient },
      action: 'user.updated',
      target: { type: 'user', id: b1.userId },
      outcome: 'success',
    });
    await append(b.tenantId, {
      actor: { type: 'user', id: bystander.userId, sessionId: 'sess-bystander' },
      action: 'dialog.read',
      target: { type: 'dialog', id: 'dlg-9' },
      outcome: 'success',
      ip: '198.51.100.7',
    });
    clock.advance(HOUR);
    windowTo = clock.now();
    // After the window: the attacker session in C must not count.
    clock.advance(1000);
    await append(c.tenantId, {
      actor: { type: 'user', id: c.userId, sessionId: attackerSession },
      action: 'message.exported',
      target: { type: 'message', id: 'msg-c' },
      outcome: 'success',
    });
    // Tokens from before the moved clock have expired: sign in again.
    officer = await newStaff(server, 'security_officer', clock);
    const scope = 'profile chat calls admin audit';
    a = { ...a, ...(await signIn(server, a.tenantId, a.email, ownerPassword, scope)) };
    c = { ...c, ...(await signIn(server, c.tenantId, c.email, ownerPassword, scope)) };
    a1 = {
      ...a1,
      token: (await signIn(server, a.tenantId, 'ann@a.example', memberPassword, 'profile chat')).accessToken,
    };
  });
  afterAll(async () => {
    await server.close();
  });

  let incidentId: string;

  it('lets a security officer open an incident with its clocks running from the awareness time', async () => {
    const awareAt = new Date(clock.now() - HOUR).toISOString();
    const opened = await asOfficer('/v1/platform/incidents', {
      title: 'Session token leak',
      description: 'Session tokens were exposed in a proxy log.',
      severity: 'high',
      awareAt,
      dataCategories: ['content', 'contact'],
    });
    expect(opened.status, opened.text).toBe(201);
    const body = opened.json<{ id: string; status: string; clocks: { clock: string; deadline: string }[] }>();
    incidentId = body.id;
    expect(body.status).toBe('investigating');
    const aware = Date.parse(awareAt);
    expect(body.clocks).toEqual([
      expect.objectContaining({
        clock: 'controller',
        deadline: new Date(aware + 24 * HOUR).toISOString(),
        overdue: false,
      }),
      expect.objectContaining({
        clock: 'gdpr_authority',
        deadline: new Date(aware + 72 * HOUR).toISOString(),
      }),
      expect.objectContaining({ clock: 'hipaa', deadline: new Date(aware + 60 * 24 * HOUR).toISOString() }),
    ]);
  });

  it('refuses notices before the incident is scoped', async () => {
    const early = await asOfficer(`/v1/platform/incidents/${incidentId}/tenant-notices`, {
      likelyConsequences: 'x',
      measures: 'y',
      contact: 'z',
    });
    expect(early.status).toBe(409);
    expect(early.json()).toMatchObject({ error: { code: 'incident_unscoped' } });
  });

  it('scopes from evidence: exactly the tenants, users and kinds of record of the ground truth', async () => {
    const scoped = await asOfficer(`/v1/platform/incidents/${incidentId}/scope`, {
      from: new Date(windowFrom).toISOString(),
      to: new Date(windowTo).toISOString(),
      sessionIds: [attackerSession],
      ipAddresses: [attackerIp],
      clientId: attackerClient,
    });
    expect(scoped.status, scoped.text).toBe(200);
    const body = scoped.json<{
      tenants: { tenantId: string; userIds: string[]; recordKinds: string[]; entries: number }[];
    }>();
    const byTenant = Object.fromEntries(body.tenants.map((t) => [t.tenantId, t]));
    expect(Object.keys(byTenant).sort()).toEqual([a.tenantId, b.tenantId].sort());
    expect(byTenant[a.tenantId]).toMatchObject({
      userIds: [a1.userId, a2.userId].sort(),
      recordKinds: ['dialog', 'message'],
      entries: 2,
    });
    expect(byTenant[b.tenantId]).toMatchObject({ userIds: [b1.userId], recordKinds: ['user'], entries: 1 });
  });

  it('refuses an evidence window that ends before it starts, and bad input, with precise codes', async () => {
    const backwards = await asOfficer(`/v1/platform/incidents/${incidentId}/scope`, {
      from: new Date(windowTo).toISOString(),
      to: new Date(windowFrom).toISOString(),
    });
    expect(backwards.status).toBe(400);
    expect(backwards.json()).toMatchObject({ error: { code: 'validation_failed' } });
    const badIp = await asOfficer(`/v1/platform/incidents/${incidentId}/scope`, {
      from: new Date(windowFrom).toISOString(),
      to: new Date(windowTo).toISOString(),
      ipAddresses: ['not-an-ip'],
    });
    expect(badIp.status).toBe(400);
    const unknown = await asOfficer(`/v1/platform/incidents/${crypto.randomUUID()}`, undefined, 'GET');
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('e-mails each affected tenant owner once, with the Art. 33(3) content and numbers, never names', async () => {
    const texts = {
      likelyConsequences: 'Messages of two users may have been read.',
      measures: 'Tokens revoked; proxy logging fixed.',
      contact: 'security@operator.example',
    };
    const first = await asOfficer(`/v1/platform/incidents/${incidentId}/tenant-notices`, texts);
    expect(first.status, first.text).toBe(200);
    expect(first.json()).toEqual({ sent: 2, alreadySent: 0 });
    const again = await asOfficer(`/v1/platform/incidents/${incidentId}/tenant-notices`, texts);
    expect(again.json()).toEqual({ sent: 0, alreadySent: 2 });

    const mailA = await incidentMail(a.tenantId);
    expect(mailA).toHaveLength(1);
    expect(mailA[0]?.to).toBe(a.email);
    const text = mailA[0]?.text ?? '';
    for (const part of [
      '(a) Nature of the breach',
      'Session token leak',
      'content, contact',
      'data subjects concerned (your users): 2',
      'dialog, message',
      texts.contact,
      texts.likelyConsequences,
      texts.measures,
    ])
      expect(text).toContain(part);
    expect(text).not.toContain('ann@a.example');
    expect(await incidentMail(b.tenantId)).toHaveLength(1);
    expect(await incidentMail(c.tenantId)).toHaveLength(0);

    const shown = await asOfficer(`/v1/platform/incidents/${incidentId}`, undefined, 'GET');
    expect(
      shown.json<{ clocks: { clock: string; metAt: string | null; overdue: boolean }[] }>().clocks[0],
    ).toMatchObject({
      clock: 'controller',
      overdue: false,
    });
  });

  it('tells each affected user by e-mail and in the app exactly once', async () => {
    const message =
      'Your messages may have been read by someone else. Sign in again and review your sessions.';
    const first = await asOfficer(`/v1/platform/incidents/${incidentId}/user-notices`, { message });
    expect(first.json()).toEqual({ sent: 6, alreadySent: 0 });
    const again = await asOfficer(`/v1/platform/incidents/${incidentId}/user-notices`, { message });
    expect(again.json()).toEqual({ sent: 0, alreadySent: 6 });
    const mailA = (await incidentMail(a.tenantId)).map((row) => row.to).sort();
    expect(mailA).toEqual([a.email, 'abe@a.example', 'ann@a.example'].sort());
    const inApp = await server.request('/v1/me/incident-notices', bearer(a1.token));
    expect(inApp.status, inApp.text).toBe(200);
    expect(inApp.json()).toMatchObject({ notices: [{ incidentId, message }] });
    const bystander = await server.request('/v1/me/incident-notices', bearer(c.accessToken));
    expect(bystander.json()).toEqual({ notices: [] });
  });

  it('shows a tenant only its own share; another tenant gets 404 for the RCA', async () => {
    const listed = await server.request('/v1/incidents', bearer(a.accessToken));
    expect(listed.status, listed.text).toBe(200);
    expect(listed.json()).toMatchObject({
      incidents: [
        { id: incidentId, affectedUsers: 2, recordKinds: ['dialog', 'message'], rcaAvailable: false },
      ],
    });
    expect(JSON.stringify(listed.json())).not.toContain(b.tenantId);
    const none = await server.request('/v1/incidents', bearer(c.accessToken));
    expect(none.json()).toEqual({ incidents: [] });
    const member = await server.request('/v1/incidents', bearer(a1.token));
    expect(member.status).toBe(403);
  });

  it('closes only with an RCA and every corrective action done; tenants request and download the RCA', async () => {
    const requested = await server.request(
      `/v1/incidents/${incidentId}/rca-request`,
      json({}, a.accessToken),
    );
    expect(requested.status, requested.text).toBe(204);
    const foreign = await server.request(`/v1/incidents/${incidentId}/rca-request`, json({}, c.accessToken));
    expect(foreign.status).toBe(404);

    const noRca = await asOfficer(`/v1/platform/incidents/${incidentId}/close`);
    expect(noRca.json()).toMatchObject({ error: { code: 'incident_rca_missing' } });
    const action = await asOfficer(`/v1/platform/incidents/${incidentId}/actions`, {
      description: 'Strip Authorization headers from proxy logs.',
    });
    expect(action.status, action.text).toBe(200);
    const actionId = action.json<{ actions: { id: string }[] }>().actions[0]?.id ?? '';
    const rca = await asOfficer(
      `/v1/platform/incidents/${incidentId}/rca`,
      { text: 'Root cause: verbose proxy logging.' },
      'PUT',
    );
    expect(rca.status, rca.text).toBe(200);
    const open = await asOfficer(`/v1/platform/incidents/${incidentId}/close`);
    expect(open.status).toBe(409);
    expect(open.json()).toMatchObject({ error: { code: 'incident_actions_open' } });

    const download = await server.request(`/v1/incidents/${incidentId}/rca`, bearer(a.accessToken));
    expect(download.status, download.text).toBe(200);
    expect(download.json()).toMatchObject({ incidentId, text: 'Root cause: verbose proxy logging.' });
    expect((await server.request(`/v1/incidents/${incidentId}/rca`, bearer(c.accessToken))).status).toBe(404);

    expect((await asOfficer(`/v1/platform/incidents/${incidentId}/actions/${actionId}/done`)).status).toBe(
      200,
    );
    const closed = await asOfficer(`/v1/platform/incidents/${incidentId}/close`);
    expect(closed.status, closed.text).toBe(200);
    expect(closed.json()).toMatchObject({ status: 'closed' });
    const late = await asOfficer(`/v1/platform/incidents/${incidentId}/actions`, { description: 'late' });
    expect(late.json()).toMatchObject({ error: { code: 'incident_closed' } });

    expect(await platformActions()).toEqual(
      expect.arrayContaining([
        'incident.opened',
        'incident.scoped',
        'incident.tenants_notified',
        'incident.users_notified',
        'incident.action_added',
        'incident.rca_attached',
        'incident.action_done',
        'incident.closed',
      ]),
    );
    const tenantChain = await server.app.storage.withTenant(a.tenantId, (tx) =>
      server.app.services.audit.query(tx, a.tenantId, { action: 'incident.*' }, { limit: 50, order: 'asc' }),
    );
    expect(tenantChain.entries.map((entry) => entry.action)).toEqual([
      'incident.tenant_notified',
      'incident.users_notified',
      'incident.rca_requested',
      'incident.rca_downloaded',
    ]);
  });

  describe('clocks', () => {
    let late: string;

    beforeAll(async () => {
      const opened = await asOfficer('/v1/platform/incidents', {
        title: 'Outage of the message store',
        description: 'A disk failed.',
        severity: 'medium',
        awareAt: new Date(clock.now()).toISOString(),
        general: true,
        publicSummary: 'Messages could not be sent for 20 minutes.',
        controllerTargetHours: 12,
      });
      late = opened.json<{ id: string }>().id;
      await asOfficer(`/v1/platform/incidents/${late}/scope`, {
        from: new Date(windowFrom).toISOString(),
        to: new Date(windowTo).toISOString(),
        clientId: attackerClient,
      });
    });

    it('reminds once as a clock nears its end and once past it, from the scheduled pass', async () => {
      clock.advance(10 * HOUR); // 10 of 12 controller hours: last quarter
      const soon = await server.app.services.incidents.remind();
      expect(soon).toContainEqual({ incidentId: late, clock: 'controller', stage: 'due_soon' });
      expect(await server.app.services.incidents.remind()).toEqual([]);
      clock.advance(3 * HOUR);
      const overdue = await server.app.services.incidents.remind();
      expect(overdue).toContainEqual({ incidentId: late, clock: 'controller', stage: 'overdue' });
      expect(await platformActions()).toContain('incident.clock_reminders');
    });

    it('past the controller clock, a tenant notice needs a delay reason (delay_reason_required)', async () => {
      officer = await newStaff(server, 'security_officer', clock);
      const texts = {
        likelyConsequences: 'None known.',
        measures: 'Disk replaced.',
        contact: 'sec@op.example',
      };
      const refused = await asOfficer(`/v1/platform/incidents/${late}/tenant-notices`, texts);
      expect(refused.status).toBe(409);
      expect(refused.json()).toMatchObject({ error: { code: 'delay_reason_required' } });
      const accepted = await asOfficer(`/v1/platform/incidents/${late}/tenant-notices`, {
        ...texts,
        delayReason: 'Scope was only known after the log review.',
      });
      expect(accepted.status, accepted.text).toBe(200);
      const shown = await asOfficer(`/v1/platform/incidents/${late}`, undefined, 'GET');
      expect(shown.json<{ clocks: unknown[] }>().clocks[0]).toMatchObject({
        clock: 'controller',
        overdue: true,
        delayReason: 'Scope was only known after the log review.',
      });
    });

    it('past 72 hours, recording the authority notification needs a delay reason', async () => {
      clock.advance(72 * HOUR);
      officer = await newStaff(server, 'security_officer', clock);
      const at = new Date(clock.now()).toISOString();
      const refused = await asOfficer(`/v1/platform/incidents/${late}/authority-notification`, {
        notifiedAt: at,
      });
      expect(refused.json()).toMatchObject({ error: { code: 'delay_reason_required' } });
      const ok = await asOfficer(`/v1/platform/incidents/${late}/authority-notification`, {
        notifiedAt: at,
        delayReason: 'Awaiting the processor’s findings.',
      });
      expect(ok.status, ok.text).toBe(200);
      expect(ok.json<{ clocks: unknown[] }>().clocks[1]).toMatchObject({
        clock: 'gdpr_authority',
        overdue: true,
      });
    });

    it('publishes general incidents on the public feed, JSON and Atom, with no personal data', async () => {
      const feed = await server.request('/v1/incident-feed');
      expect(feed.status).toBe(200);
      const entries = feed.json<{ incidents: { id: string; summary: string }[] }>().incidents;
      expect(entries.map((entry) => entry.id)).toEqual([late]);
      expect(entries[0]).toMatchObject({ summary: 'Messages could not be sent for 20 minutes.' });
      expect(feed.text).not.toContain(b.tenantId);
      expect(feed.text).not.toContain('A disk failed.');
      const atom = await server.request('/v1/incident-feed.atom');
      expect(atom.status).toBe(200);
      expect(atom.headers['content-type']).toContain('application/atom+xml');
      expect(atom.text).toContain(`<id>urn:uuid:${late}</id>`);
      expect(atom.text).not.toContain(incidentId);
    });
  });

  describe('roles', () => {
    it('refuses incidents to support staff and platform admins (403), and tenant tokens get 404', async () => {
      const support = await newStaff(server, 'support', clock);
      const admin = await newStaff(server, 'platform_admin', clock);
      for (const staff of [support, admin]) {
        const refused = await server.request('/v1/platform/incidents', bearer(staff.accessToken));
        expect(refused.status).toBe(403);
        const open = await server.request(
          '/v1/platform/incidents',
          json(
            { title: 't', description: 'd', severity: 'low', awareAt: new Date(clock.now()).toISOString() },
            staff.accessToken,
          ),
        );
        expect(open.status).toBe(403);
      }
      const tenant = await server.request('/v1/platform/incidents', bearer(a.accessToken));
      expect(tenant.status).toBe(404);
      const staffOnTenant = await server.request('/v1/incidents', bearer(officer.accessToken));
      expect(staffOnTenant.status).toBe(404);
    });
  });
});

describe('the installation default of the controller clock', () => {
  it('takes PARLEY_INCIDENT_CONTROLLER_HOURS as the target when an incident names none', async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ clock, env: { PARLEY_INCIDENT_CONTROLLER_HOURS: '6' } });
    try {
      const officer = await newStaff(server, 'security_officer', clock);
      const awareAt = clock.now() - 1000;
      const opened = await server.request(
        '/v1/platform/incidents',
        json(
          {
            title: 'Lost laptop',
            description: 'A staff laptop was lost.',
            severity: 'low',
            awareAt: new Date(awareAt).toISOString(),
          },
          officer.accessToken,
        ),
      );
      expect(opened.status, opened.text).toBe(201);
      expect(opened.json<{ clocks: { deadline: string }[] }>().clocks[0]?.deadline).toBe(
        new Date(awareAt + 6 * HOUR).toISOString(),
      );
    } finally {
      await server.close();
    }
  });
});
