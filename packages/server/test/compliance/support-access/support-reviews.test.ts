import type { SupportScope } from '@parley/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PLATFORM_CHAIN_ID } from '../../../src/compliance/audit/audit-entry.ts';
import { supportReviewCondition } from '../../../src/compliance/support-access/index.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn } from '../../support/identity-fixtures.ts';
import { ManualClock, newStaff, type SignedInStaff } from '../../support/staff-fixtures.ts';
import { startTestServer, type TestResponse, type TestServer } from '../../support/start-server.ts';

const DAY = 24 * 3600_000;

interface ReviewGrant {
  grantId: string;
  tenantId: string;
  requestedBy: { staffId: string; email: string | null };
  scope: string;
  durationHours: number;
  status: string;
  decidedBy: string | null;
  decision: string | null;
  revokedBy: string | null;
  accesses: { operation: string; outcome: string; refusal: string | null }[];
}
interface Report {
  since: string;
  until: string;
  totals: { grants: number; accesses: number; deniedAccesses: number };
  grants: ReviewGrant[];
  reportHash: string;
}

/**
 * Periodic review of support access (issue 17, point 3). A security officer reads the report of a window —
 * every grant, who asked and decided, scope, duration, every access under it from the tenant's chain — and
 * signs it by its hash. Attacks tried: a support agent, a platform admin or a tenant owner signing; a hash
 * that is not the report's (made up, or of a report that changed since it was read); a window not yet over.
 * An unsigned period shows as overdue in the status, the metrics and the alert condition.
 */
describeEachDialect('periodic review of support access', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock();
  let owner: SignedIn;
  let support: SignedInStaff;
  let officer: SignedInStaff;
  let admin: SignedInStaff;
  let start: number;

  beforeAll(async () => {
    // A 30-day period instead of the quarterly default: PARLEY_SUPPORT_REVIEW_DAYS is honoured.
    server = await startTestServer({ dialect, clock, env: { PARLEY_SUPPORT_REVIEW_DAYS: '30' } });
    start = clock.now();
    // No staff account yet: there is no support access to review, so nothing is due, even a year on.
    expect(await server.app.services.supportReviews.status(start + 365 * DAY)).toMatchObject({
      overdue: false,
      dueAt: null,
      coveredUntil: null,
    });
    owner = await newTenantOwner(server, 'Reviewed Ltd');
    support = await newStaff(server, 'support', clock);
    officer = await newStaff(server, 'security_officer', clock);
    admin = await newStaff(server, 'platform_admin', clock);
    // From the first staff account on, the first review is due within the period.
    expect(await server.app.services.supportReviews.status(start + 31 * DAY)).toMatchObject({
      overdue: true,
    });
  });
  afterAll(async () => {
    await server.close();
  });

  const code = (response: TestResponse) => response.json<{ error: { code: string } }>().error.code;
  const iso = (ms: number) => new Date(ms).toISOString();
  const ask = async (scope: SupportScope, hours: number) => {
    const response = await server.request(
      '/v1/platform/support-grants',
      json(
        { tenantId: owner.tenantId, reason: 'Ticket 88: export fails.', scope, durationHours: hours },
        support.accessToken,
      ),
    );
    expect(response.status, response.text).toBe(201);
    return response.json<{ id: string }>().id;
  };
  const decide = async (grantId: string, verb: 'approve' | 'refuse' | 'revoke') => {
    const response = await server.request(
      `/v1/support-grants/${grantId}/${verb}`,
      json({}, owner.accessToken),
    );
    expect(response.status, response.text).toBe(200);
  };
  const underGrant = (grantId: string, path: string, method = 'GET', body?: unknown) =>
    server.request(path, {
      method,
      headers: {
        authorization: `Bearer ${support.accessToken}`,
        'parley-support-grant': grantId,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const report = (token: string, since: number, until?: number) =>
    server.request(
      `/v1/platform/support-reviews/report?since=${encodeURIComponent(iso(since))}${
        until === undefined ? '' : `&until=${encodeURIComponent(iso(until))}`
      }`,
      bearer(token),
    );
  const sign = (token: string, body: unknown) =>
    server.request('/v1/platform/support-reviews', json(body, token));
  const metric = async (name: string) => server.app.metrics.registry.getSingleMetricAsString(name);

  let approvedId: string;
  let refusedId: string;
  let windowEnd: number;
  let signed: Report;

  it('reports every grant of the window: who asked, who approved, refused or revoked, scope, duration, every access', async () => {
    approvedId = await ask('metadata', 4);
    await decide(approvedId, 'approve');
    expect((await underGrant(approvedId, '/v1/tenant/settings')).status).toBe(200);
    expect((await underGrant(approvedId, '/v1/tenant/settings')).status).toBe(200);
    const write = await underGrant(approvedId, '/v1/tenant/settings', 'PATCH', { name: 'x' });
    expect(write.status).toBe(403);
    await decide(approvedId, 'revoke');
    refusedId = await ask('user_admin', 8);
    await decide(refusedId, 'refuse');
    clock.advance(60_000);
    windowEnd = clock.now();

    const response = await report(officer.accessToken, start - 1000, windowEnd);
    expect(response.status, response.text).toBe(200);
    const body = response.json<Report>();
    expect(body.totals).toEqual({ grants: 2, accesses: 3, deniedAccesses: 1 });
    expect(body.reportHash).toMatch(/^[0-9a-f]{64}$/);
    const [first, second] = body.grants;
    expect(first).toMatchObject({
      grantId: approvedId,
      tenantId: owner.tenantId,
      requestedBy: { staffId: support.id, email: support.email },
      scope: 'metadata',
      durationHours: 4,
      status: 'revoked',
      decision: 'approved',
      decidedBy: owner.userId,
      revokedBy: owner.userId,
    });
    expect(first?.accesses.map((access) => [access.operation, access.outcome, access.refusal])).toEqual([
      ['getTenantSettings', 'success', null],
      ['getTenantSettings', 'success', null],
      ['updateTenantSettings', 'denied', 'support_scope_exceeded'],
    ]);
    expect(second).toMatchObject({
      grantId: refusedId,
      scope: 'user_admin',
      durationHours: 8,
      decision: 'refused',
      decidedBy: owner.userId,
      accesses: [],
    });

    // The same window gives the same report and hash; a window before the grants has none.
    expect((await report(officer.accessToken, start - 1000, windowEnd)).json<Report>().reportHash).toBe(
      body.reportHash,
    );
    const before = (await report(officer.accessToken, start - 2 * DAY, start - DAY)).json<Report>();
    expect(before.totals.grants).toBe(0);
    // Platform admins read it; support staff and tenant tokens do not.
    expect((await report(admin.accessToken, start - 1000, windowEnd)).status).toBe(200);
    expect((await report(support.accessToken, start - 1000, windowEnd)).status).toBe(403);
    expect((await report(owner.accessToken, start - 1000, windowEnd)).status).toBe(404);
    const backwards = await report(officer.accessToken, windowEnd, start);
    expect([backwards.status, code(backwards)]).toEqual([400, 'validation_failed']);
    signed = body;
  });

  it('lets only a security officer sign, and only the hash of the report of that window now', async () => {
    const body = { since: iso(start - 1000), until: iso(windowEnd), reportHash: signed.reportHash };
    const bySupport = await sign(support.accessToken, body);
    expect(bySupport.status).toBe(403);
    const byAdmin = await sign(admin.accessToken, body);
    expect(byAdmin.status).toBe(403);
    expect((await sign(owner.accessToken, body)).status).toBe(404);

    const madeUp = await sign(officer.accessToken, { ...body, reportHash: 'a'.repeat(64) });
    expect([madeUp.status, code(madeUp)]).toEqual([409, 'support_review_hash_mismatch']);
    // A hash read for another window is not this window's.
    const otherWindow = await sign(officer.accessToken, { ...body, since: iso(start - 2000) });
    expect([otherWindow.status, code(otherWindow)]).toEqual([409, 'support_review_hash_mismatch']);
    const notOver = await sign(officer.accessToken, { ...body, until: iso(clock.now() + 3600_000) });
    expect([notOver.status, code(notOver)]).toEqual([400, 'validation_failed']);
    const malformed = await sign(officer.accessToken, { ...body, reportHash: 'not-a-hash' });
    expect(malformed.status).toBe(400);
    expect((await server.request('/v1/platform/support-reviews')).status).toBe(401);

    // The report changed since it was read (a grant's duration rewritten in the database): refused. (The
    // reason is sealed, so a plain rewrite of it would not even open.)
    const rewriteDuration = (change: number) =>
      server.app.storage.withTenant(owner.tenantId, (tx) =>
        tx
          .updateTable('support_grants')
          .set((eb) => ({ duration_hours: eb('duration_hours', '+', change) }))
          .where('id', '=', refusedId)
          .execute(),
      );
    await rewriteDuration(1);
    const changed = await sign(officer.accessToken, body);
    expect([changed.status, code(changed)]).toEqual([409, 'support_review_hash_mismatch']);
    await rewriteDuration(-1);

    const done = await sign(officer.accessToken, body);
    expect(done.status, done.text).toBe(201);
    expect(done.json()).toMatchObject({
      since: body.since,
      until: body.until,
      reportHash: signed.reportHash,
      grants: 2,
      accesses: 3,
      signedBy: officer.id,
      signedAt: iso(clock.now()),
    });
    const platform = await server.app.storage.withTenant(PLATFORM_CHAIN_ID, (tx) =>
      server.app.services.audit.query(
        tx,
        PLATFORM_CHAIN_ID,
        { action: 'support.review_signed' },
        { limit: 10, order: 'asc' },
      ),
    );
    expect(platform.entries).toEqual([
      expect.objectContaining({
        actor: expect.objectContaining({ type: 'staff', id: officer.id }),
        details: expect.objectContaining({ reportHash: signed.reportHash, grants: 2, accesses: 3 }),
      }),
    ]);
    const reads = await server.app.storage.withTenant(PLATFORM_CHAIN_ID, (tx) =>
      server.app.services.audit.query(
        tx,
        PLATFORM_CHAIN_ID,
        { action: 'support.review_report_read', actorId: officer.id },
        { limit: 50, order: 'asc' },
      ),
    );
    expect(reads.entries.length).toBeGreaterThan(0);
    const listed = await server.request('/v1/platform/support-reviews', bearer(admin.accessToken));
    expect(listed.json()).toMatchObject({
      status: { periodDays: 30, overdue: false, coveredUntil: body.until },
      reviews: [{ reportHash: signed.reportHash, signedBy: officer.id }],
    });
    expect((await server.request('/v1/platform/support-reviews', bearer(support.accessToken))).status).toBe(
      403,
    );
  });

  it('shows an overdue review in the status, the platform health, the metrics and the alert condition until the next is signed', async () => {
    const condition = supportReviewCondition(server.app.services.supportReviews);
    expect(await condition.evaluate(clock.now())).toEqual([]);
    expect(await metric('parley_support_review_overdue')).toMatch(/parley_support_review_overdue 0$/m);
    expect(await metric('parley_support_review_last_signed_timestamp_seconds')).toContain(
      `{review="support_access"} ${Math.round(clock.now() / 1000)}`,
    );

    clock.advance(31 * DAY);
    const findings = await condition.evaluate(clock.now());
    expect(findings).toEqual([
      { subject: 'support_review', summary: expect.stringContaining(iso(windowEnd + 30 * DAY)) },
    ]);
    expect(await metric('parley_support_review_overdue')).toMatch(/parley_support_review_overdue 1$/m);
    expect(await metric('parley_support_review_due_timestamp_seconds')).toContain(
      `${Math.round((windowEnd + 30 * DAY) / 1000)}`,
    );
    // Staff sessions last a working day: a month later the officer signs in afresh.
    const nextOfficer = await newStaff(server, 'security_officer', clock);
    const status = await server.request('/v1/platform/support-reviews', bearer(nextOfficer.accessToken));
    expect(status.json()).toMatchObject({ status: { overdue: true } });
    const health = await server.request('/v1/platform/health', bearer(nextOfficer.accessToken));
    expect(health.json()).toMatchObject({
      status: 'attention',
      riskReviews: { overdue: 0 },
      supportReview: { overdue: true, dueAt: iso(windowEnd + 30 * DAY) },
    });

    const until = clock.now() - 1000;
    const next = (await report(nextOfficer.accessToken, windowEnd, until)).json<Report>();
    // The revoked and the refused grant ended before this window.
    expect(next.totals.grants).toBe(0);
    const done = await sign(nextOfficer.accessToken, {
      since: iso(windowEnd),
      until: iso(until),
      reportHash: next.reportHash,
    });
    expect(done.status, done.text).toBe(201);
    expect(await condition.evaluate(clock.now())).toEqual([]);
    expect(await metric('parley_support_review_overdue')).toMatch(/parley_support_review_overdue 0$/m);
    const healthAfter = await server.request('/v1/platform/health', bearer(nextOfficer.accessToken));
    expect(healthAfter.json()).toMatchObject({ status: 'ok', supportReview: { overdue: false } });
  });
});
