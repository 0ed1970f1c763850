import { afterAll, beforeAll, expect, it } from 'vitest';
import { riskReviewCondition } from '../../../src/compliance/risk-register/index.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import { bearer, json, newTenantOwner } from '../../support/identity-fixtures.ts';
import { ManualClock, newStaff, type SignedInStaff } from '../../support/staff-fixtures.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';

const DAY = 24 * 3600_000;

/**
 * The risk register (issue 18, point 3): risks scored and reviewed at least yearly, overdue reviews visible
 * in the register and as the `risk_review_overdue` alert condition, major changes done only with a linked
 * risk assessment, CSV and JSON export. Security officers write; platform admins read; nobody else.
 */
describeEachDialect('risk register', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock();
  let officer: SignedInStaff;

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
    officer = await newStaff(server, 'security_officer', clock);
  });
  afterAll(async () => {
    await server.close();
  });

  const post = (path: string, body: unknown, method = 'POST') =>
    server.request(path, json(body, officer.accessToken, method));
  /** The `parley_risk_reviews_overdue` sample of a scrape of this node's metrics listener. */
  const overdueGauge = async () => {
    const text = await (await fetch(server.app.metricsUrl ?? '')).text();
    return Number(/^parley_risk_reviews_overdue (\S+)$/m.exec(text)?.[1]);
  };
  const health = async () =>
    (await server.request('/v1/platform/health', bearer(officer.accessToken))).json<{
      status: string;
      riskReviews: { overdue: number; risks: { id: string }[] };
      supportReview: { overdue: boolean };
    }>();

  let riskId: string;

  it('records a risk with its score and a review due within a year', async () => {
    const created = await post('/v1/platform/risks', {
      asset: 'Audit log',
      threat: 'Tampering by a database administrator',
      likelihood: 2,
      impact: 5,
      controls: 'Hash chain, signed checkpoints, external anchors',
      owner: 'Security officer',
    });
    expect(created.status, created.text).toBe(201);
    const body = created.json<{ id: string; score: number; nextReviewAt: string; reviewOverdue: boolean }>();
    riskId = body.id;
    expect(body).toMatchObject({ score: 10, status: 'open', reviewOverdue: false });
    expect(Date.parse(body.nextReviewAt)).toBe(clock.now() + 365 * DAY);
    const tooLate = await post('/v1/platform/risks', {
      asset: 'x',
      threat: 'y',
      likelihood: 1,
      impact: 1,
      controls: 'z',
      owner: 'o',
      nextReviewAt: new Date(clock.now() + 400 * DAY).toISOString(),
    });
    expect(tooLate.status).toBe(400);
    expect(tooLate.json()).toMatchObject({ error: { code: 'validation_failed' } });
    const badLevel = await post('/v1/platform/risks', {
      asset: 'x',
      threat: 'y',
      likelihood: 6,
      impact: 1,
      controls: 'z',
      owner: 'o',
    });
    expect(badLevel.status).toBe(400);
  });

  it('shows an overdue review in the register and fires risk_review_overdue, until reviewed', async () => {
    const condition = riskReviewCondition(server.app.services.risks);
    expect(await condition.evaluate(clock.now())).toEqual([]);
    expect(await overdueGauge()).toBe(0);
    expect(await health()).toMatchObject({ status: 'ok', riskReviews: { overdue: 0, risks: [] } });
    clock.advance(366 * DAY);
    officer = await newStaff(server, 'security_officer', clock);
    // Visible in health and metrics (issue 18, point 3).
    expect(await overdueGauge()).toBe(1);
    expect(await health()).toMatchObject({
      status: 'attention',
      riskReviews: { overdue: 1, risks: [{ id: riskId, asset: 'Audit log' }] },
    });
    const listed = await server.request('/v1/platform/risks', bearer(officer.accessToken));
    expect(listed.json()).toMatchObject({ risks: [{ id: riskId, reviewOverdue: true }] });
    expect(await condition.evaluate(clock.now())).toEqual([expect.objectContaining({ subject: riskId })]);

    const reviewed = await post(`/v1/platform/risks/${riskId}/reviews`, { likelihood: 1 });
    expect(reviewed.status, reviewed.text).toBe(200);
    expect(reviewed.json()).toMatchObject({ score: 5, reviewOverdue: false });
    expect(await condition.evaluate(clock.now())).toEqual([]);
    expect(await overdueGauge()).toBe(0);
    // The risk is reviewed; the year also left the periodic review of support access unsigned, which the same
    // view shows (support-reviews.test.ts covers it).
    expect(await health()).toMatchObject({
      status: 'attention',
      riskReviews: { overdue: 0, risks: [] },
      supportReview: { overdue: true },
    });
  });

  it('refuses to mark a major change done without a linked risk assessment', async () => {
    const change = await post('/v1/platform/changes', {
      title: 'Move to PostgreSQL 17',
      description: 'Upgrade the cluster.',
      major: true,
    });
    expect(change.status, change.text).toBe(201);
    const changeId = change.json<{ id: string }>().id;
    const refused = await post(`/v1/platform/changes/${changeId}/done`, {});
    expect(refused.status).toBe(409);
    expect(refused.json()).toMatchObject({ error: { code: 'risk_assessment_required' } });
    const unknownRisk = await post(
      `/v1/platform/changes/${changeId}/assessment`,
      { riskId: crypto.randomUUID(), assessment: 'n/a' },
      'PUT',
    );
    expect(unknownRisk.status).toBe(404);
    const assessed = await post(
      `/v1/platform/changes/${changeId}/assessment`,
      { riskId, assessment: 'Chain verified after the upgrade; no new risk.' },
      'PUT',
    );
    expect(assessed.status, assessed.text).toBe(200);
    const done = await post(`/v1/platform/changes/${changeId}/done`, {});
    expect(done.status, done.text).toBe(200);
    expect(done.json()).toMatchObject({ status: 'done', riskId });

    const minor = await post('/v1/platform/changes', { title: 'Typo', description: 'Docs.', major: false });
    const minorDone = await post(`/v1/platform/changes/${minor.json<{ id: string }>().id}/done`, {});
    expect(minorDone.status).toBe(200);
  });

  it('exports the register as CSV and JSON with the same rows, formulas neutralised', async () => {
    await post('/v1/platform/risks', {
      asset: '=HYPERLINK("http://evil.example")',
      threat: 'A "quoted" threat',
      likelihood: 3,
      impact: 3,
      controls: 'None',
      owner: 'Ops',
    });
    const jsonList = await server.request('/v1/platform/risks', bearer(officer.accessToken));
    const csv = await server.request('/v1/platform/risks.csv', bearer(officer.accessToken));
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe(
      'id,asset,threat,likelihood,impact,score,controls,owner,status,nextReviewAt,lastReviewedAt,reviewOverdue',
    );
    expect(lines).toHaveLength(1 + jsonList.json<{ risks: unknown[] }>().risks.length);
    expect(csv.text).toContain(`"'=HYPERLINK(""http://evil.example"")"`);
    expect(csv.text).toContain('"A ""quoted"" threat"');
  });

  it('lets platform admins read but not write; support staff and tenant tokens are refused', async () => {
    const admin = await newStaff(server, 'platform_admin', clock);
    const support = await newStaff(server, 'support', clock);
    expect((await server.request('/v1/platform/risks', bearer(admin.accessToken))).status).toBe(200);
    const write = await server.request(
      '/v1/platform/changes',
      json({ title: 't', description: 'd', major: false }, admin.accessToken),
    );
    expect(write.status).toBe(403);
    expect((await server.request('/v1/platform/risks', bearer(support.accessToken))).status).toBe(403);
    const tenant = await newTenantOwner(server);
    expect((await server.request('/v1/platform/risks', bearer(tenant.accessToken))).status).toBe(404);
    expect((await server.request('/v1/platform/health', bearer(admin.accessToken))).status).toBe(200);
    expect((await server.request('/v1/platform/health', bearer(support.accessToken))).status).toBe(403);
    expect((await server.request('/v1/platform/health', bearer(tenant.accessToken))).status).toBe(404);
  });
});
