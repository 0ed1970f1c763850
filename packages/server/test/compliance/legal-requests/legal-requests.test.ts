import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readOutbox } from '../../../src/notifications/outbox-mailer.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import { runDueJobs } from '../gdpr/export-download.ts';
import {
  bearer,
  json,
  newTenantOwner,
  ownerPassword,
  type SignedIn,
  signIn,
} from '../../support/identity-fixtures.ts';
import { ManualClock, newStaff, type SignedInStaff } from '../../support/staff-fixtures.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';

const DAY = 24 * 3600_000;
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Law-enforcement requests (issue 18, point 2): registered, reviewed (valid, binding; approved, narrowed or
 * objected to), the tenant told before disclosure unless a non-disclosure order holds — then when it ends —
 * and counted per half year on the public transparency report. Security officers only.
 */
describeEachDialect('law-enforcement requests', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock();
  let officer: SignedInStaff;
  let tenant: SignedIn;

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
    officer = await newStaff(server, 'security_officer', clock);
    tenant = await newTenantOwner(server, 'Subject Ltd');
  });
  afterAll(async () => {
    await server.close();
  });

  const post = (path: string, body: unknown = {}) => server.request(path, json(body, officer.accessToken));
  const register = async (orderReference: string) => {
    const created = await post('/v1/platform/legal-requests', {
      authority: 'Metropolitan Police',
      legalBasis: 'Investigatory Powers Act 2016, s. 61',
      orderReference,
      scope: 'All messages of user 42 in 2026',
      scopeSpec: {
        userIds: [tenant.userId],
        from: new Date(clock.now() - 30 * DAY).toISOString(),
        to: new Date(clock.now()).toISOString(),
        kinds: ['account', 'messages'],
      },
      tenantId: tenant.tenantId,
      receivedAt: new Date(clock.now()).toISOString(),
      deadlineAt: new Date(clock.now() + 10 * DAY).toISOString(),
    });
    expect(created.status, created.text).toBe(201);
    return created.json<{ id: string }>().id;
  };
  /** Builds the disclosure package with the export engine; resolves with its SHA-256. */
  const buildPackage = async (id: string) => {
    const built = await post(`/v1/platform/legal-requests/${id}/package`);
    expect(built.status, built.text).toBe(202);
    await runDueJobs(server);
    const ready = await server.request(
      `/v1/platform/legal-requests/${id}/package`,
      bearer(officer.accessToken),
    );
    expect(ready.json()).toMatchObject({ status: 'ready' });
    return ready.json<{ sha256: string }>().sha256;
  };
  const mails = () =>
    server.app.storage.withTenant(tenant.tenantId, (tx) =>
      readOutbox(tx, server.app.security.fieldCipher, tenant.tenantId, 100),
    );

  it('notifies the tenant before disclosure: disclosure without notice is refused', async () => {
    const id = await register('ORD-1');
    const early = await post(`/v1/platform/legal-requests/${id}/disclosure`, { packageSha256: sha('x') });
    expect(early.json()).toMatchObject({ error: { code: 'legal_request_not_approved' } });
    const narrowed = await post(`/v1/platform/legal-requests/${id}/review`, {
      valid: true,
      binding: true,
      decision: 'narrow',
      approvedScope: 'Subscriber data of user 42 only',
      notes: 'Messages are out of proportion to the stated offence.',
    });
    expect(narrowed.status, narrowed.text).toBe(200);
    expect(narrowed.json()).toMatchObject({ status: 'approved', narrowed: true });
    const unnoticed = await post(`/v1/platform/legal-requests/${id}/disclosure`, { packageSha256: sha('x') });
    expect(unnoticed.status).toBe(409);
    expect(unnoticed.json()).toMatchObject({ error: { code: 'tenant_notice_required' } });
    expect((await post(`/v1/platform/legal-requests/${id}/tenant-notice`)).status).toBe(200);
    expect((await post(`/v1/platform/legal-requests/${id}/tenant-notice`)).status).toBe(200);
    expect((await mails()).filter((mail) => mail.subject.includes('Metropolitan Police'))).toHaveLength(1);
    const unbuilt = await post(`/v1/platform/legal-requests/${id}/disclosure`, { packageSha256: sha('x') });
    expect(unbuilt.json()).toMatchObject({ error: { code: 'legal_package_not_ready' } });
    const packageSha256 = await buildPackage(id);
    const other = await post(`/v1/platform/legal-requests/${id}/disclosure`, { packageSha256: sha('x') });
    expect(other.json()).toMatchObject({ error: { code: 'legal_package_mismatch' } });
    const disclosed = await post(`/v1/platform/legal-requests/${id}/disclosure`, { packageSha256 });
    expect(disclosed.json()).toMatchObject({ status: 'disclosed', packageSha256 });
    const seen = await server.request('/v1/legal-requests', bearer(tenant.accessToken));
    expect(seen.json()).toMatchObject({
      requests: [{ id, approvedScope: 'Subscriber data of user 42 only' }],
    });
  });

  it('under a non-disclosure order, holds the notice until it ends, then sends it from the scheduled pass', async () => {
    const id = await register('ORD-2');
    await post(`/v1/platform/legal-requests/${id}/review`, {
      valid: true,
      binding: true,
      decision: 'approve',
      notes: 'Valid court order.',
      nonDisclosureUntil: new Date(clock.now() + 30 * DAY).toISOString(),
    });
    const gagged = await post(`/v1/platform/legal-requests/${id}/tenant-notice`);
    expect(gagged.json()).toMatchObject({ error: { code: 'nondisclosure_in_force' } });
    const disclosed = await post(`/v1/platform/legal-requests/${id}/disclosure`, {
      packageSha256: await buildPackage(id),
    });
    expect(disclosed.status, disclosed.text).toBe(200);
    expect(await server.app.services.legalRequests.noticesDue()).toEqual([]);
    clock.advance(31 * DAY);
    expect(await server.app.services.legalRequests.noticesDue()).toEqual([id]);
    expect(await server.app.services.legalRequests.noticesDue()).toEqual([]);
    expect((await mails()).filter((mail) => mail.subject.includes('Metropolitan Police'))).toHaveLength(2);
    officer = await newStaff(server, 'security_officer', clock);
    tenant = {
      ...tenant,
      ...(await signIn(
        server,
        tenant.tenantId,
        tenant.email,
        ownerPassword,
        'profile chat calls admin audit',
      )),
    };
  });

  it('records an objection and publishes counts per half year, with no names', async () => {
    const id = await register('ORD-3');
    const objected = await post(`/v1/platform/legal-requests/${id}/review`, {
      valid: false,
      binding: false,
      decision: 'object',
      notes: 'Not signed by a judge.',
    });
    expect(objected.json()).toMatchObject({ status: 'rejected', objected: true });
    const report = await server.request('/v1/transparency-report');
    expect(report.status).toBe(200);
    const totals = report
      .json<{
        periods: {
          received: number;
          objected: number;
          narrowed: number;
          disclosed: number;
          notified: number;
        }[];
      }>()
      .periods.reduce(
        (sum, period) => ({
          received: sum.received + period.received,
          objected: sum.objected + period.objected,
          narrowed: sum.narrowed + period.narrowed,
          disclosed: sum.disclosed + period.disclosed,
          notified: sum.notified + period.notified,
        }),
        { received: 0, objected: 0, narrowed: 0, disclosed: 0, notified: 0 },
      );
    expect(totals).toEqual({ received: 3, objected: 1, narrowed: 1, disclosed: 2, notified: 2 });
    expect(report.text).not.toContain('Metropolitan');
    expect(report.text).not.toContain(tenant.tenantId);
  });

  it('refuses legal requests to other staff roles (403) and to tenant tokens (404)', async () => {
    const support = await newStaff(server, 'support', clock);
    expect((await server.request('/v1/platform/legal-requests', bearer(support.accessToken))).status).toBe(
      403,
    );
    expect((await server.request('/v1/platform/legal-requests', bearer(tenant.accessToken))).status).toBe(
      404,
    );
    const other = await newTenantOwner(server, 'Bystander');
    expect((await server.request('/v1/legal-requests', bearer(other.accessToken))).json()).toEqual({
      requests: [],
    });
  });
});
