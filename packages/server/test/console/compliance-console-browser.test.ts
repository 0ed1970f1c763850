import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DialectName } from '../../src/storage/dialects/dialect-adapter.ts';
import type { TenantTx } from '../../src/storage/database.ts';
import { seriousAxeViolations } from './axe.ts';
import {
  bearer,
  json,
  newTenantOwner,
  ownerPassword,
  type SignedIn,
  signIn,
} from '../support/identity-fixtures.ts';
import { newStaff, type SignedInStaff } from '../support/staff-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { fillSignIn } from '../support/browser-sign-in.ts';
import { describeConsoleInChromium, expectNoScriptRan } from '../support/console-browser-suite.ts';

/**
 * The console's compliance pages in Debian's Chromium against a real server, on SQLite and PostgreSQL (one
 * server each). Attacks tried: script-like text in fields others control (a staff member's reason for asking
 * for support access, a data subject's note, a legal hold's reason) must show as text and never run; a
 * refused support request must not let the staff member in; a chain edited in the database must show as
 * broken. Screenshots of the main pages go to docs/screenshots/ (from the SQLite run).
 */

const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
const SCREENSHOTS = path.join(REPO_ROOT, 'docs/screenshots');
const XSS_REASON = 'Ticket 4711 <img src=x onerror=window.__xss=1> sign-in trouble';
const XSS_REFUSED = 'Ticket 4712 <script>window.__xss=2</script> bulk export';
const XSS_NOTE = '<img src=x onerror=window.__xss=3> please send my data';
const INCIDENT_TITLE = 'Proxy log <img src=x onerror=window.__xss=4> exposure';
const RCA_TEXT = 'Root cause: a debug flag logged headers.\n<script>window.__xss=5</script>';
const officerPassword = 'Harbour lantern velvet 58 quince';
const DAY = 86_400_000;

describeConsoleInChromium('console compliance pages', 'console compliance pages in Chromium', suite);

function suite(dialect: DialectName, newPage: () => Promise<Page>): void {
  let server: TestServer;
  let owner: SignedIn;
  let support: SignedInStaff;
  let officer: { userId: string; email: string };
  /** Each main page: no serious accessibility violation (axe-core), and its screenshot from the SQLite run. */
  const shoot = async (page: Page, name: string) => {
    expect(await seriousAxeViolations(page), name).toEqual([]);
    if (dialect === 'sqlite')
      await page.screenshot({ path: path.join(SCREENSHOTS, `console-${name}.png`), fullPage: true });
  };
  const api = (route: string, token: string, method = 'GET', body?: unknown) =>
    server.request(route, body === undefined ? bearer(token, method) : json(body, token, method));

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Compliance Clinic', 'profile admin audit');
    support = await newStaff(server, 'support');
    officer = { userId: '', email: `officer-${dialect}@clinic.example` };
    const created = await api('/v1/users', owner.accessToken, 'POST', {
      displayName: 'Otto Officer',
      email: officer.email,
      password: officerPassword,
      roles: ['compliance_officer'],
    });
    expect(created.status, created.text).toBe(201);
    officer.userId = created.json<{ userId: string }>().userId;
    // Otto accepts the tenant's required purposes first (the console has no page for that).
    await signIn(server, owner.tenantId, officer.email, officerPassword);
  });
  afterAll(async () => {
    await server.close();
  });

  it('an admin approves one support request, narrowed, and refuses another; the staff token works only under the approved one', async () => {
    const ask = async (reason: string, scope: string) => {
      const response = await server.request(
        '/v1/platform/support-grants',
        json({ tenantId: owner.tenantId, reason, scope, durationHours: 4 }, support.accessToken),
      );
      expect(response.status, response.text).toBe(201);
      return response.json<{ id: string }>().id;
    };
    const approvedId = await ask(XSS_REASON, 'user_admin');
    const refusedId = await ask(XSS_REFUSED, 'metadata');
    const underGrant = (grantId: string) =>
      server.request('/v1/tenant/settings', {
        headers: { authorization: `Bearer ${support.accessToken}`, 'parley-support-grant': grantId },
      });
    expect((await underGrant(approvedId)).status).toBe(403);

    const page = await newPage();
    await page.setViewportSize({ width: 1100, height: 800 });
    await page.goto(`${server.url}/console/support-access`);
    await fillSignIn(page, owner.tenantId, owner.email, ownerPassword);
    await page.getByRole('heading', { name: 'Support access', level: 1 }).waitFor();
    await page.getByText('Operator staff may ask this tenant for support access').waitFor();

    const approvedCard = page.getByRole('listitem').filter({ hasText: 'Ticket 4711' });
    const refusedCard = page.getByRole('listitem').filter({ hasText: 'Ticket 4712' });
    await expect.poll(() => approvedCard.locator('dd.reason').textContent()).toBe(XSS_REASON);
    expect(await refusedCard.locator('dd.reason').textContent()).toBe(XSS_REFUSED);
    await expectNoScriptRan(page);

    // Approve narrower than asked: user administration becomes metadata only, 4 hours become 2.
    await approvedCard.getByRole('button', { name: 'Approve…' }).click();
    const approval = approvedCard.getByRole('form', { name: 'Approve this request' });
    await approval.getByLabel('Scope').selectOption('metadata');
    await approval.getByLabel('Hours').fill('2');
    await approval.getByRole('button', { name: 'Confirm approval' }).click();
    await approvedCard.locator('.badge', { hasText: 'approved' }).waitFor();

    await refusedCard.getByRole('button', { name: 'Refuse' }).click();
    await refusedCard.getByRole('button', { name: 'Confirm: refuse' }).click();
    await refusedCard.locator('.badge', { hasText: 'refused' }).waitFor();

    const listed = (await api('/v1/support-grants', owner.accessToken)).json<{
      grants: { id: string; status: string; scope: string; durationHours: number; decidedBy: string }[];
    }>().grants;
    expect(listed.find((grant) => grant.id === approvedId)).toMatchObject({
      status: 'approved',
      scope: 'metadata',
      durationHours: 2,
      decidedBy: owner.userId,
    });
    expect(listed.find((grant) => grant.id === refusedId)).toMatchObject({ status: 'refused' });

    // The server holds the staff member to the decisions made in the browser.
    expect((await underGrant(approvedId)).status).toBe(200);
    expect((await underGrant(refusedId)).status).toBe(403);
    const write = await server.request(`/v1/users/${officer.userId}`, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${support.accessToken}`,
        'parley-support-grant': approvedId,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ status: 'deactivated' }),
    });
    expect(write.status).toBe(403); // narrowed to metadata: no user administration

    await approvedCard.getByRole('button', { name: 'What was accessed' }).click();
    const accessed = approvedCard.getByRole('table', { name: 'Requests made under this grant' });
    await accessed.waitFor();
    // Before approval the request was refused, and recorded as such; after it, it went through.
    const settings = accessed.getByRole('row').filter({ hasText: 'GET /v1/tenant/settings' });
    expect(await settings.locator('td[data-label="Outcome"]').allTextContents()).toEqual(
      expect.arrayContaining(['success', expect.stringMatching(/^denied: grant_not_approved$/)]),
    );
    await accessed
      .getByRole('row')
      .filter({ hasText: `PATCH /v1/users/${officer.userId}` })
      .waitFor();
    await expectNoScriptRan(page);
    await shoot(page, 'support-access');

    // Revoking ends the grant on the staff member's next request.
    await approvedCard.getByRole('button', { name: 'Revoke' }).click();
    await approvedCard.getByRole('button', { name: 'Confirm: revoke now' }).click();
    await approvedCard.locator('.badge', { hasText: 'revoked' }).waitFor();
    expect((await underGrant(approvedId)).status).toBe(403);

    // The tenant policy: forbidding support access stops new requests; allowing it again lets them in.
    await page.getByRole('button', { name: 'Forbid support access' }).click();
    await page.getByRole('button', { name: 'Confirm: forbid support access' }).click();
    await page.getByText('Support access is forbidden').waitFor();
    const forbidden = await server.request(
      '/v1/platform/support-grants',
      json(
        {
          tenantId: owner.tenantId,
          reason: 'Ticket 4713: one more look.',
          scope: 'metadata',
          durationHours: 1,
        },
        support.accessToken,
      ),
    );
    expect([forbidden.status, forbidden.json<{ error: { code: string } }>().error.code]).toEqual([
      403,
      'support_access_forbidden',
    ]);
    await page.getByRole('button', { name: 'Allow support access requests' }).click();
    await page.getByText('Operator staff may ask this tenant for support access').waitFor();
    expect((await api('/v1/support-policy', owner.accessToken)).json()).toEqual({ allowed: true });
    await page.close();
  });

  it('a compliance officer filters, pages, exports and verifies the audit log; an edited entry shows the chain broken', async () => {
    // 30 reads of the log, each itself an audit entry: more than one page of 25.
    for (let read = 0; read < 30; read += 1)
      expect((await api('/v1/audit?limit=1', owner.accessToken)).status).toBe(200);

    const page = await newPage();
    await page.setViewportSize({ width: 1100, height: 800 });
    await page.goto(`${server.url}/console/`);
    await fillSignIn(page, owner.tenantId, officer.email, officerPassword);
    // A compliance officer sees the compliance pages but not support access (an owner's and admin's matter).
    const nav = page.getByRole('navigation', { name: 'Console' });
    await nav.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    for (const title of [
      'Consents',
      'Data requests',
      'Retention',
      'Legal holds',
      'Incidents',
      'Evidence report',
    ])
      expect(await nav.getByRole('link', { name: title }).count()).toBe(1);
    expect(await nav.getByRole('link', { name: 'Support access' }).count()).toBe(0);

    const filter = page.getByRole('form', { name: 'Filter' });
    await filter.getByLabel('Action').fill('audit.read');
    await filter.getByLabel('Actor id').fill(owner.userId);
    await filter.getByRole('button', { name: 'Show entries' }).click();
    const rows = page.locator('table.grid tbody tr');
    await expect.poll(() => rows.count()).toBe(25);
    const seqs = async () => (await rows.locator('td:first-child').allTextContents()).map(Number);
    const first = await seqs();
    expect(first).toEqual([...first].sort((a, b) => b - a)); // newest first
    for (const action of await rows.locator('td[data-label="Action"]').allTextContents())
      expect(action).toBe('audit.read');

    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText('Page 2').waitFor();
    const second = await seqs();
    expect(second.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...second)).toBeLessThan(Math.min(...first));
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByText('Page 1').waitFor();
    expect(await seqs()).toEqual(first);

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export (JSON lines)' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe('audit.jsonl');
    const lines = readFileSync(await file.path(), 'utf8')
      .trim()
      .split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(30);
    for (const line of lines)
      expect(JSON.parse(line)).toMatchObject({ action: 'audit.read', actor: { id: owner.userId } });

    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByText(/^Intact: \d+ entries/).waitFor();
    await shoot(page, 'audit');

    // The evidence report, computed and signed by the server; its printable HTML downloaded.
    await nav.getByRole('link', { name: 'Evidence report' }).click();
    await page.getByRole('button', { name: 'Compute the report' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /^\d+ met, \d+ needing attention, \d+ not met\./ })
      .waitFor();
    expect(await page.locator('table.grid tbody tr').count()).toBeGreaterThan(3);
    await shoot(page, 'compliance-report');
    const printable = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download printable HTML' }).click();
    const html = readFileSync(await (await printable).path(), 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('Compliance Clinic');
    await nav.getByRole('link', { name: 'Audit log' }).click();

    // Someone with write access to the database rewrites entry 3: the next verification says so.
    await server.app.storage.withSystem(async (tx) => {
      if (dialect === 'postgres')
        await sql`select set_config('app.tenant_id', ${owner.tenantId}, true)`.execute(tx);
      await (tx as unknown as TenantTx)
        .updateTable('audit_log')
        .set({ action: 'auth.logout' })
        .where('tenant_id', '=', owner.tenantId)
        .where('seq', '=', 3)
        .execute();
    });
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByText('Broken at entry #3: hash mismatch.').waitFor();
    expect(await page.locator('.verdict.broken').count()).toBe(1);
    await page.close();
  });

  it('lists data subject requests soonest deadline first with the overdue ones marked; notes and hold reasons do not run', async () => {
    const now = Date.now();
    const record = async (subjectId: string, daysAgo: number, note: string) => {
      const response = await api('/v1/privacy/requests', owner.accessToken, 'POST', {
        subjectId,
        kind: 'access',
        receivedAt: new Date(now - daysAgo * DAY).toISOString(),
        note,
      });
      expect(response.status, response.text).toBe(201);
    };
    await record(owner.userId, 10, 'received ten days ago');
    await record(officer.userId, 40, XSS_NOTE);
    await record(owner.userId, 25, 'received 25 days ago');

    const page = await newPage();
    await page.setViewportSize({ width: 1100, height: 800 });
    await page.goto(`${server.url}/console/privacy-requests`);
    await fillSignIn(page, owner.tenantId, officer.email, officerPassword);
    await page.getByRole('heading', { name: 'Data subject requests', level: 1 }).waitFor();
    const rows = page.locator('table.grid tbody tr');
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.locator('td[data-label="Note"]').allTextContents()).toEqual([
      XSS_NOTE,
      'received 25 days ago',
      'received ten days ago',
    ]);
    expect(await rows.nth(0).getAttribute('class')).toBe('overdue');
    expect(await rows.nth(0).locator('td[data-label="Due"]').textContent()).toContain('overdue');
    for (const later of [1, 2]) expect(await rows.nth(later).getAttribute('class')).toBeNull();
    await page.getByRole('status').filter({ hasText: '1 overdue' }).waitFor();
    await expectNoScriptRan(page);
    await shoot(page, 'privacy-requests');
    // At phone width each request is a card: nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shoot(page, 'privacy-requests-phone');
    await page.setViewportSize({ width: 1100, height: 800 });

    // Start work on the overdue one, then close it with an outcome.
    await rows.nth(0).getByRole('button', { name: 'Start work' }).click();
    await rows.nth(0).locator('td[data-label="Status"]', { hasText: 'in progress' }).waitFor();
    await rows.nth(0).getByRole('button', { name: 'Close…' }).click();
    await rows.nth(0).getByLabel('Outcome for the subject').fill('Data sent by post.');
    await rows.nth(0).getByRole('button', { name: 'Close request' }).click();
    await expect.poll(() => rows.count()).toBe(2);

    // Legal holds: one placed with a script-like reason, shown as text, then released.
    await page
      .getByRole('navigation', { name: 'Console' })
      .getByRole('link', { name: 'Legal holds' })
      .click();
    const place = page.getByRole('form', { name: 'Place a hold' });
    await place.getByRole('combobox', { name: /^On/ }).selectOption('user');
    await place.getByLabel('User or dialog id (not for the whole tenant)').fill(officer.userId);
    await place.getByLabel('Reason').fill(XSS_NOTE);
    await place.getByRole('button', { name: 'Place hold' }).click();
    const hold = page.locator('table.grid tbody tr').filter({ hasText: officer.userId });
    await hold.waitFor();
    expect(await hold.locator('td[data-label="Reason"]').textContent()).toBe(XSS_NOTE);
    expect(await hold.locator('td[data-label="State"]').textContent()).toBe('in force');
    await expectNoScriptRan(page);
    await shoot(page, 'legal-holds');
    await hold.getByRole('button', { name: 'Release…' }).click();
    await hold.getByRole('button', { name: 'Confirm: release' }).click();
    await hold.locator('td[data-label="State"]', { hasText: 'ended' }).waitFor();

    // Consents and retention render from the live API.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Consents' }).click();
    await page.getByRole('heading', { name: 'Consents and purposes', level: 1 }).waitFor();
    await expect.poll(() => page.locator('table.grid tbody tr').count()).toBeGreaterThan(0);
    await shoot(page, 'consents');
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Retention' }).click();
    const rules = page.getByRole('form', { name: 'Retention rules' });
    await rules.waitFor();
    await rules.getByLabel('Mail outbox').fill('14d');
    await rules.getByRole('button', { name: 'Save rules' }).click();
    await page.getByText('Rules saved.').waitFor();
    expect((await api('/v1/retention', owner.accessToken)).json<{ mailOutbox: string }>().mailOutbox).toBe(
      '14d',
    );
    await shoot(page, 'retention');
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Incidents' }).click();
    await page.getByText('No incident concerns this tenant.').waitFor();

    // An incident the operator scoped to this tenant's owner, with its root cause analysis attached.
    const securityOfficer = await newStaff(server, 'security_officer');
    const asSecurity = async (route: string, body: unknown, method = 'POST') => {
      const response = await server.request(route, json(body, securityOfficer.accessToken, method));
      expect(response.status, response.text).toBeLessThan(300);
      return response;
    };
    const incidentId = (
      await asSecurity('/v1/platform/incidents', {
        title: INCIDENT_TITLE,
        description: 'Session tokens were exposed in a proxy log.',
        severity: 'high',
        awareAt: new Date(now - 60_000).toISOString(),
        dataCategories: ['contact'],
      })
    ).json<{ id: string }>().id;
    await asSecurity(`/v1/platform/incidents/${incidentId}/scope`, {
      from: new Date(now - DAY).toISOString(),
      to: new Date(Date.now()).toISOString(),
      userIds: [owner.userId],
    });
    await asSecurity(`/v1/platform/incidents/${incidentId}/rca`, { text: RCA_TEXT }, 'PUT');
    await page.reload();
    await fillSignIn(page, owner.tenantId, officer.email, officerPassword);
    const incident = page.getByRole('listitem', { name: `Incident ${INCIDENT_TITLE}` });
    await incident.waitFor();
    expect(await incident.locator('strong').first().textContent()).toBe(INCIDENT_TITLE);
    await incident.getByRole('button', { name: 'Read the root cause analysis' }).click();
    await expect.poll(() => incident.locator('pre.rca').textContent()).toBe(RCA_TEXT);
    await expectNoScriptRan(page);
    await shoot(page, 'incidents');
    await page.close();
  });
}
