import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DialectName } from '../../src/storage/dialects/dialect-adapter.ts';
import { fillSignIn } from '../support/browser-sign-in.ts';
import { describeConsoleInChromium, expectNoScriptRan } from '../support/console-browser-suite.ts';
import { bearer, json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { seriousAxeViolations } from './axe.ts';

/**
 * The console's data subject request register and per-dialog retention in Debian's Chromium against a real
 * server, on SQLite and PostgreSQL: a compliance officer records a request received by post (found by exact
 * e-mail address), extends its deadline once (a second extension is refused in words), and sets then removes a
 * dialog's retention override; each result is read back from the API. Attacks tried: script-like text in a
 * recorded note must show as text and never run; a role without the permissions sees none of the controls and
 * the server refuses it the calls.
 */

const XSS_NOTE =
  'Letter says <img src=x onerror=window.__xss=1> send me <script>window.__xss=2</script> my data';
const officerPassword = 'Harbour lantern velvet 58 quince';
const agentPassword = 'Meadow copper whistle 73 plum';
const DAY = 86_400_000;

interface PrivacyRequest {
  id: string;
  subjectId: string;
  kind: string;
  source: string;
  receivedAt: string;
  deadlineAt: string;
  extendedUntil: string | null;
  extensionReason: string | null;
  dueAt: string;
  note: string | null;
}

/** `2026-12-07 10:35 UTC`, as the console shows an API time. */
const shown = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

describeConsoleInChromium(
  'console compliance requests',
  'console data requests and dialog retention in Chromium',
  suite,
);

function suite(dialect: DialectName, newPage: () => Promise<Page>): void {
  let server: TestServer;
  let owner: SignedIn;
  const officer = { userId: '', email: `officer-req-${dialect}@clinic.example` };
  const agent = { userId: '', email: `agent-req-${dialect}@clinic.example` };
  const subject = { userId: '', email: `subject-req-${dialect}@clinic.example` };
  const api = (route: string, token: string, method = 'GET', body?: unknown) =>
    server.request(route, body === undefined ? bearer(token, method) : json(body, token, method));
  const newUser = async (
    user: { userId: string; email: string },
    displayName: string,
    password: string,
    roles: string[],
  ) => {
    const created = await api('/v1/users', owner.accessToken, 'POST', {
      displayName,
      email: user.email,
      password,
      roles,
    });
    expect(created.status, created.text).toBe(201);
    user.userId = created.json<{ userId: string }>().userId;
    // Each accepts the tenant's required purposes first (the console's consent step is tested elsewhere).
    return signIn(server, owner.tenantId, user.email, password);
  };
  const openAs = async (email: string, password: string, route: string) => {
    const page = await newPage();
    await page.setViewportSize({ width: 1100, height: 800 });
    await page.goto(`${server.url}${route}`);
    await fillSignIn(page, owner.tenantId, email, password);
    return page;
  };

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Requests Clinic');
    await newUser(officer, 'Otto Officer', officerPassword, ['compliance_officer']);
    await newUser(agent, 'Ada Agent', agentPassword, ['support_agent']);
    await newUser(subject, 'Sam Subject', 'Willow granite harbour 41 fig', ['member']);
  });
  afterAll(async () => {
    await server.close();
  });

  it('records a request received by post, listed by its deadline; extends it once; a second extension is refused in words', async () => {
    const page = await openAs(officer.email, officerPassword, '/console/privacy-requests');
    await page.getByRole('heading', { name: 'Data subject requests', level: 1 }).waitFor();
    await page.getByText('Record a request received by post, e-mail or phone').click();
    const form = page.getByRole('form', { name: 'Record a request' });
    await form.getByLabel('Subject (exact e-mail address, or user id)').fill(subject.email);
    await form.getByLabel('Right exercised').selectOption('erasure');
    await form.getByLabel('Received by').selectOption('post');
    // Ten days ago, at 09:30 in the browser's time zone.
    const received = new Date(Date.now() - 10 * DAY);
    received.setHours(9, 30, 0, 0);
    const local = new Date(received.getTime() - received.getTimezoneOffset() * 60_000).toISOString();
    await form.getByLabel(/^Received on/).fill(local.slice(0, 16));
    await form.getByLabel(/^Note/).fill(XSS_NOTE);
    await form.getByRole('button', { name: 'Record request' }).click();
    const deadline = new Date(received.getTime() + 30 * DAY).toISOString();
    await form
      .getByRole('status')
      .filter({ hasText: `Recorded: due ${shown(deadline)}.` })
      .waitFor();

    // The server stored it as recorded: the subject found by e-mail, received when the form said.
    const stored = (await api('/v1/privacy/requests', owner.accessToken)).json<{
      requests: PrivacyRequest[];
    }>().requests;
    expect(stored).toHaveLength(1);
    const [request] = stored;
    expect(request).toMatchObject({
      subjectId: subject.userId,
      kind: 'erasure',
      source: 'admin',
      receivedAt: received.toISOString(),
      deadlineAt: deadline,
      dueAt: deadline,
      extendedUntil: null,
      note: `Received by post. ${XSS_NOTE}`,
    });

    const row = page.locator('table.grid tbody tr').filter({ hasText: subject.userId });
    await row.waitFor();
    expect(await row.locator('td[data-label="Due"]').textContent()).toBe(shown(deadline));
    expect(await row.locator('td[data-label="Kind"]').textContent()).toBe('erasure');
    expect(await row.locator('td[data-label="Note"]').textContent()).toBe(`Received by post. ${XSS_NOTE}`);
    await expectNoScriptRan(page);
    expect(await seriousAxeViolations(page)).toEqual([]);

    // Extended by two months, the most allowed: the new deadline is shown and stored.
    await row.getByRole('button', { name: 'Extend deadline…' }).click();
    const extension = row.getByRole('form', { name: 'Extend the deadline' });
    const extended = new Date(received.getTime() + 90 * DAY).toISOString();
    await extension.getByLabel('New deadline').selectOption('90');
    await extension.getByLabel('Reason the subject will be told').fill('Archive boxes must be fetched.');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await extension.getByRole('button', { name: 'Extend deadline' }).click();
    await row
      .getByRole('status')
      .filter({ hasText: `Deadline extended to ${shown(extended)}.` })
      .waitFor();
    await expect
      .poll(() => row.locator('td[data-label="Due"]').textContent())
      .toBe(`${shown(extended)} (extended: Archive boxes must be fetched.)`);
    const after = (
      await api(`/v1/privacy/requests/${request?.id ?? ''}`, owner.accessToken)
    ).json<PrivacyRequest>();
    expect(after).toMatchObject({
      deadlineAt: deadline,
      extendedUntil: extended,
      dueAt: extended,
      extensionReason: 'Archive boxes must be fetched.',
    });

    // A second extension to the same limit is refused, in words, and nothing changes.
    await row.getByRole('button', { name: 'Extend deadline…' }).click();
    await extension.getByLabel('Reason the subject will be told').fill('Still waiting.');
    await extension.getByRole('button', { name: 'Extend deadline' }).click();
    await extension
      .getByRole('alert')
      .filter({ hasText: /^An extension must move the deadline later\. \(code validation_failed, request / })
      .waitFor();
    // One month only would move it earlier: refused too.
    await extension.getByLabel('New deadline').selectOption('60');
    await extension.getByRole('button', { name: 'Extend deadline' }).click();
    await extension
      .getByRole('alert')
      .filter({ hasText: /^An extension must move the deadline later\./ })
      .waitFor();
    expect(
      (await api(`/v1/privacy/requests/${request?.id ?? ''}`, owner.accessToken)).json<PrivacyRequest>(),
    ).toMatchObject({ extendedUntil: extended, extensionReason: 'Archive boxes must be fetched.' });

    // An unknown e-mail address is said so, and nothing is recorded.
    await form
      .getByLabel('Subject (exact e-mail address, or user id)')
      .fill(`nobody-${dialect}@clinic.example`);
    await form.getByRole('button', { name: 'Record request' }).click();
    await form.getByRole('status').filter({ hasText: 'No user has this e-mail address.' }).waitFor();
    expect(
      (await api('/v1/privacy/requests?status=all', owner.accessToken)).json<{ requests: unknown[] }>()
        .requests,
    ).toHaveLength(1);
    await expectNoScriptRan(page);
    await page.close();
  });

  it('sets a dialog’s retention override, shows the server’s refusal of a bad one, and removes it', async () => {
    const created = await api('/v1/dialogs', owner.accessToken, 'POST', {
      type: 'group',
      name: 'Night shift',
      memberIds: [],
    });
    expect(created.status, created.text).toBe(201);
    const dialogId = created.json<{ id: string }>().id;

    const page = await openAs(officer.email, officerPassword, '/console/retention');
    await page.getByRole('heading', { name: 'Retention rules', level: 1 }).waitFor();
    const lookUp = page.getByRole('form', { name: 'Look up a dialog' });
    await lookUp.getByLabel('Dialog id').fill(dialogId);
    await lookUp.getByRole('button', { name: 'Show its retention' }).click();
    const override = page.getByRole('form', { name: 'Dialog override' });
    await override.getByText('follows the tenant’s rules').waitFor();
    const tenant = (await api('/v1/retention', owner.accessToken)).json<Record<string, string | null>>();
    const rowOf = (name: string) =>
      override.getByRole('row').filter({ has: page.getByRole('rowheader', { name }) });
    expect(await rowOf('Messages').locator('td[data-label="In force"]').textContent()).toBe(
      tenant.messages ?? 'unlimited',
    );
    expect(await seriousAxeViolations(page)).toEqual([]);

    // Half an hour is below the server's minimum: its refusal is shown, and nothing is stored.
    await override.getByLabel('Messages: dialog override').fill('30m');
    await override.getByRole('button', { name: 'Save override' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /^messages: a message is kept at least an hour \(1h\)\./ })
      .waitFor();
    expect((await api(`/v1/retention/dialogs/${dialogId}`, owner.accessToken)).json()).not.toHaveProperty(
      'messages',
    );

    await override.getByLabel('Messages: dialog override').fill('7d');
    await override.getByLabel('Call records: dialog override').fill('unlimited');
    await override.getByRole('button', { name: 'Save override' }).click();
    await page.getByRole('status').filter({ hasText: 'Override saved.' }).waitFor();
    expect(await rowOf('Messages').locator('td[data-label="In force"]').textContent()).toBe('7d');
    expect(await rowOf('Call records').locator('td[data-label="In force"]').textContent()).toBe('unlimited');
    expect((await api(`/v1/retention/dialogs/${dialogId}`, owner.accessToken)).json()).toMatchObject({
      dialogId,
      messages: '7d',
      callRecords: null,
      effective: { messages: '7d', callRecords: null, attachments: tenant.attachments },
    });
    expect(await seriousAxeViolations(page)).toEqual([]);

    await page.getByRole('button', { name: 'Remove override' }).click();
    await page.getByRole('status').filter({ hasText: 'Override removed.' }).waitFor();
    await override.getByText('follows the tenant’s rules').waitFor();
    const cleared = (await api(`/v1/retention/dialogs/${dialogId}`, owner.accessToken)).json();
    expect(cleared).not.toHaveProperty('messages');
    expect(cleared).not.toHaveProperty('callRecords');
    expect(cleared).toMatchObject({
      effective: { messages: tenant.messages, callRecords: tenant.callRecords },
    });
    await page.close();
  });

  it('a role that manages requests but may not look users up records by user id only', async () => {
    const defined = await api('/v1/roles/dsr_clerk', owner.accessToken, 'PUT', {
      permissions: ['profile.read', 'profile.update', 'sessions.manage', 'privacy.requests.manage'],
    });
    expect(defined.status, defined.text).toBeLessThan(300);
    const clerk = { userId: '', email: `clerk-req-${dialect}@clinic.example` };
    const clerkPassword = 'Orchard basalt lantern 62 pear';
    await newUser(clerk, 'Cleo Clerk', clerkPassword, ['dsr_clerk']);
    const { accessToken } = await signIn(server, owner.tenantId, clerk.email, clerkPassword, 'profile admin');
    const lookUp = await api(`/v1/users?email=${encodeURIComponent(subject.email)}`, accessToken);
    expect([lookUp.status, lookUp.json<{ error: { code: string } }>().error.code]).toEqual([
      403,
      'forbidden',
    ]);

    const page = await openAs(clerk.email, clerkPassword, '/console/privacy-requests');
    await page.getByRole('heading', { name: 'Data subject requests', level: 1 }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Console' });
    expect(await nav.getByRole('link', { name: 'Retention' }).count()).toBe(0);
    await page.getByText('Record a request received by post, e-mail or phone').click();
    const form = page.getByRole('form', { name: 'Record a request' });
    expect(await form.getByLabel('Subject (exact e-mail address, or user id)').count()).toBe(0);
    await form.getByLabel('Subject (user id)').fill(subject.userId);
    await form.getByLabel('Right exercised').selectOption('objection');
    await form.getByLabel('Received by').selectOption('phone');
    await form.getByRole('button', { name: 'Record request' }).click();
    await form
      .getByRole('status')
      .filter({ hasText: /^Recorded: due / })
      .waitFor();
    const { requests } = (await api('/v1/privacy/requests?kind=objection', owner.accessToken)).json<{
      requests: PrivacyRequest[];
    }>();
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ subjectId: subject.userId, note: 'Received by phone.' });
    await page.close();
  });

  it('a support agent sees no request or retention controls, and the server refuses the calls', async () => {
    // Asked for the data requests page, the console opens one the role may see instead (Users).
    const page = await openAs(agent.email, agentPassword, '/console/privacy-requests');
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Console' });
    for (const title of ['Data requests', 'Retention'])
      expect(await nav.getByRole('link', { name: title }).count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Data subject requests' }).count()).toBe(0);
    expect(await page.getByRole('form', { name: 'Record a request' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /Extend deadline/ }).count()).toBe(0);
    await page.goto(`${server.url}/console/retention`);
    await fillSignIn(page, owner.tenantId, agent.email, agentPassword);
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    expect(await page.getByRole('heading', { name: 'Retention rules' }).count()).toBe(0);
    expect(await page.getByRole('form', { name: 'Look up a dialog' }).count()).toBe(0);
    expect(await page.getByRole('form', { name: 'Dialog override' }).count()).toBe(0);
    await page.close();

    const { accessToken } = await signIn(server, owner.tenantId, agent.email, agentPassword, 'profile admin');
    const refused = async (route: string, method: string, body?: unknown) => {
      const response = await api(route, accessToken, method, body);
      expect([response.status, response.json<{ error: { code: string } }>().error.code], route).toEqual([
        403,
        'forbidden',
      ]);
    };
    await refused('/v1/privacy/requests', 'POST', { subjectId: subject.userId, kind: 'access' });
    const [request] = (await api('/v1/privacy/requests', owner.accessToken)).json<{
      requests: PrivacyRequest[];
    }>().requests;
    await refused(`/v1/privacy/requests/${request?.id ?? ''}/extension`, 'POST', {
      until: new Date(Date.now() + 60 * DAY).toISOString(),
      reason: 'no',
    });
    const dialogId = '00000000-0000-4000-8000-000000000000';
    await refused(`/v1/retention/dialogs/${dialogId}`, 'PUT', { messages: '1d' });
    await refused(`/v1/retention/dialogs/${dialogId}`, 'DELETE');
  });
}
