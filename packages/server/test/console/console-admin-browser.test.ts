import path from 'node:path';
import { TOTP } from 'otpauth';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../support/browser-sdk.ts';
import {
  bearer,
  json,
  memberPassword,
  newTenantOwner,
  ownerPassword,
  type SignedIn,
  signIn,
  tokenRequest,
} from '../support/identity-fixtures.ts';
import { enrolTotp } from '../support/mfa-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { buildConsole } from '../support/console-build.ts';
import { fillSignIn } from '../support/browser-sign-in.ts';
import { seriousAxeViolations } from './axe.ts';

/**
 * The console's admin pages in Debian's Chromium against a real server: sign-in with a recovery code, custom
 * roles, tenant settings the server then applies (password policy, MFA required for a role, which forces the
 * enrolment with the QR code at the next sign-in), an OAuth client whose secret is shown once, a user's session
 * revoked, the tenant's users listed (paged, filtered), axe-core on every page, and phone width. PARLEY_CONSOLE_TEST_DIALECT=postgres runs it on PostgreSQL.
 */

const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
const SCREENSHOTS = path.join(REPO_ROOT, 'docs/screenshots');
const DIALECT = process.env.PARLEY_CONSOLE_TEST_DIALECT === 'postgres' ? 'postgres' : 'sqlite';
const chromiumSkip = chromiumMissing('console admin pages');
/** A password of 19 characters the default policy accepts (length 12, strength 3). */
const NINETEEN = 'Quiet lynx harbor 8';

const ADMIN_PAGES = [
  ['Users', '/console/users'],
  ['Roles', '/console/roles'],
  ['Settings', '/console/settings'],
  ['OAuth clients', '/console/clients'],
  ['My account', '/console/account'],
] as const;
const HEADINGS: Record<string, string> = {
  Users: 'Users',
  Roles: 'Custom roles',
  Settings: 'Tenant settings',
  'OAuth clients': 'OAuth clients',
  'My account': 'My account',
};

/** The sign-in answered `consent_required`: accept every required purpose shown, as the user would. */
async function acceptRequiredPurposes(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Before you continue' }).waitFor();
  const boxes = page.getByRole('checkbox', { name: /^I accept:/ });
  // The heading shows while the purposes still load ("Loading…"): wait for them before counting.
  await boxes.first().waitFor();
  expect(await boxes.count()).toBeGreaterThan(0);
  for (const box of await boxes.all()) await box.check();
  await page.getByRole('button', { name: 'Accept and continue' }).click();
}

async function openPage(page: Page, title: keyof typeof HEADINGS): Promise<void> {
  await page
    .getByRole('navigation', { name: 'Console' })
    .getByRole('link', { name: title, exact: true })
    .click();
  await page.getByRole('heading', { name: HEADINGS[title], level: 1 }).waitFor();
}

describe.skipIf(chromiumSkip !== undefined)(`console admin pages in Chromium [${DIALECT}]`, () => {
  let server: TestServer;
  let owner: SignedIn;
  let recoveryCodes: string[];
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;

  beforeAll(async () => {
    buildConsole();
    server = await startTestServer({ dialect: DIALECT });
    owner = await newTenantOwner(server, 'Admin Pages Clinic', 'profile admin audit');
    ({ recoveryCodes } = await enrolTotp(server, owner.accessToken, ownerPassword));
    chromium = await launchChromium();
    page = await chromium.browser.newPage();
    await page.setViewportSize({ width: 1100, height: 800 });
  });

  afterAll(async () => {
    await chromium.close();
    await server.close();
  });

  it('signs the owner in with a recovery code instead of an authenticator code; the code works only once', async () => {
    await page.goto(`${server.url}/console/`);
    await fillSignIn(page, owner.tenantId, owner.email, ownerPassword);
    await page.getByRole('button', { name: 'Use a recovery code' }).click();
    const code = page.getByLabel('Recovery code');
    await code.fill(recoveryCodes[0] ?? '');
    await code.press('Enter');
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    const links = page.getByRole('navigation', { name: 'Console' }).getByRole('link');
    const titles = await links.allTextContents();
    for (const [title] of ADMIN_PAGES) expect(titles).toContain(title);

    // The same recovery code, replayed by another browser, is refused with a clear message.
    const replay = await chromium.browser.newPage();
    await replay.goto(`${server.url}/console/`);
    await fillSignIn(replay, owner.tenantId, owner.email, ownerPassword);
    await replay.getByRole('button', { name: 'Use a recovery code' }).click();
    await replay.getByLabel('Recovery code').fill(recoveryCodes[0] ?? '');
    await replay.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => replay.getByRole('alert').textContent()).toMatch(/not right|already used/);
    await replay.close();
  });

  it('lists the tenant’s users on open, pages with Load more, filters by status and role, and shows a new user', async () => {
    // 27 users made through the API (every fifth a support agent, two deactivated): with the owner, 28.
    const made: { id: string; email: string }[] = [];
    for (let index = 1; index <= 27; index += 1) {
      const email = `dir${String(index).padStart(2, '0')}@admin.example`;
      const role = index % 5 === 0 ? 'support_agent' : 'member';
      const created = await server.request(
        '/v1/users',
        json(
          {
            displayName: `Dana ${String(index).padStart(2, '0')}`,
            email,
            password: memberPassword,
            roles: [role],
          },
          owner.accessToken,
        ),
      );
      expect(created.status).toBe(201);
      made.push({ id: created.json<{ userId: string }>().userId, email });
    }
    for (const index of [6, 10]) {
      const deactivated = await server.request(
        `/v1/users/${made[index - 1]?.id ?? ''}`,
        json({ status: 'deactivated' }, owner.accessToken, 'PATCH'),
      );
      expect(deactivated.status).toBe(204);
    }

    // Opening the page lists the first 25, oldest first: the owner, then the users in creation order.
    await openPage(page, 'Roles');
    await openPage(page, 'Users');
    const status = page.getByRole('region', { name: 'All users' }).getByRole('status').first();
    await expect.poll(() => status.textContent()).toBe('Showing 25 users; more to load.');
    const rows = page.locator('table.users tbody tr');
    expect(await rows.count()).toBe(25);
    const emails = () => page.locator('table.users tbody td[data-label="E-mail"]').allTextContents();
    expect((await emails()).slice(0, 3)).toEqual([owner.email, 'dir01@admin.example', 'dir02@admin.example']);
    const dana6 = page.getByRole('row').filter({ hasText: 'dir06@admin.example' });
    expect(await dana6.getByRole('cell').nth(2).textContent()).toBe('deactivated');
    expect(await dana6.getByRole('cell').nth(3).textContent()).toBe('member');
    await dana6.getByRole('button', { name: 'Reactivate Dana 06' }).waitFor();

    // Load more, from the keyboard: the last three, each once; then nothing more to load.
    await page.getByRole('button', { name: 'Load more users' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => status.textContent()).toBe('Showing 28 users, all of them.');
    const all = await emails();
    expect(all).toHaveLength(28);
    expect(new Set(all).size).toBe(28);
    expect(all.slice(-3)).toEqual(['dir25@admin.example', 'dir26@admin.example', 'dir27@admin.example']);
    expect(await page.getByRole('button', { name: 'Load more users' }).count()).toBe(0);

    // Filters: the deactivated ones, then the support agents among all statuses.
    const filters = page.getByRole('form', { name: 'Filter users' });
    await filters.getByLabel('Status').selectOption('deactivated');
    await filters.getByRole('button', { name: 'Show users' }).click();
    await expect.poll(() => status.textContent()).toBe('Showing 2 users, all of them.');
    expect(await emails()).toEqual(['dir06@admin.example', 'dir10@admin.example']);
    await filters.getByLabel('Status').selectOption('');
    await filters.getByLabel('Role').selectOption('support_agent');
    await filters.getByLabel('Role').press('Tab'); // to the button, and Enter: the keyboard path
    await page.keyboard.press('Enter');
    await expect.poll(() => status.textContent()).toBe('Showing 5 users, all of them.');
    expect(await emails()).toEqual(
      ['dir05', 'dir10', 'dir15', 'dir20', 'dir25'].map((name) => `${name}@admin.example`),
    );
    expect(await seriousAxeViolations(page)).toEqual([]);

    // A user created on the page shows up at the top at once, and in the listing from then on.
    const create = page.getByRole('form', { name: 'Create a user' });
    await create.getByLabel('Display name').fill('Newt New');
    await create.getByLabel('E-mail address').fill('newt@admin.example');
    await create.getByLabel('Initial password').fill(memberPassword);
    await create.getByRole('button', { name: 'Create user' }).click();
    await expect.poll(async () => (await emails())[0]).toBe('newt@admin.example');
    await filters.getByLabel('Role').selectOption('member');
    await filters.getByRole('button', { name: 'Show users' }).click();
    await expect.poll(() => status.textContent()).toBe('Showing 23 users, all of them.');
    expect((await emails()).at(-1)).toBe('newt@admin.example');
    await filters.getByLabel('Role').selectOption('');
    await filters.getByRole('button', { name: 'Show users' }).click();
    await expect.poll(() => status.textContent()).toBe('Showing 25 users; more to load.');
  });

  it('creates, edits and deletes a custom role with permission checkboxes; the server holds exactly those permissions', async () => {
    await openPage(page, 'Roles');
    const form = page.getByRole('form', { name: 'Create a role' });
    await form.getByLabel('Role name').fill('night_desk');
    await form.getByLabel('users read', { exact: true }).check();
    await form.getByLabel('audit read', { exact: true }).check();
    await form.getByRole('button', { name: 'Create role' }).click();
    await page.getByRole('button', { name: 'Edit role night_desk' }).waitFor();

    await page.getByRole('button', { name: 'Edit role night_desk' }).click();
    const edit = page.getByRole('form', { name: 'Edit role night_desk' });
    expect(await edit.getByLabel('audit read', { exact: true }).isChecked()).toBe(true);
    await edit.getByLabel('tenant read', { exact: true }).check();
    await edit.getByRole('button', { name: 'Save role' }).click();
    await page.getByRole('form', { name: 'Create a role' }).waitFor();
    await page.getByText('users.read, tenant.read, audit.read').waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-roles.png'), fullPage: true });

    const roles = await server.request('/v1/roles', bearer(owner.accessToken));
    expect(roles.json()).toEqual({
      roles: [{ name: 'night_desk', permissions: ['users.read', 'tenant.read', 'audit.read'] }],
    });

    // Deleting asks first, then the server forgets the role.
    await page.getByRole('button', { name: 'Delete role night_desk' }).click();
    await page.getByRole('button', { name: 'Confirm: delete night_desk' }).click();
    await page.getByText('Role night_desk deleted.').waitFor();
    expect((await server.request('/v1/roles', bearer(owner.accessToken))).json()).toEqual({ roles: [] });
  });

  it('changes the password policy and MFA enforcement; the server applies both', async () => {
    const before = await server.request(
      '/v1/users',
      json(
        { displayName: 'Before', email: 'before@admin.example', password: NINETEEN, roles: ['member'] },
        owner.accessToken,
      ),
    );
    expect(before.status).toBe(201);

    await openPage(page, 'Settings');
    const policy = page.getByRole('form', { name: 'Password policy' });
    await policy.getByLabel('Shortest password (characters)').fill('20');
    await policy.getByRole('button', { name: 'Save password policy' }).click();
    await policy.getByText('Saved.').waitFor();
    const mfa = page.getByRole('form', { name: 'Two-factor enforcement' });
    await mfa.getByLabel('Require for member').check();
    await mfa.getByRole('button', { name: 'Save two-factor enforcement' }).click();
    await mfa.getByText('Saved.').waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-settings.png'), fullPage: true });

    // A value the server refuses is shown with its reason, and nothing is saved.
    await policy.getByLabel('Days before a password must change (0: never)').fill('0');
    await policy.getByLabel('First delay (seconds)').fill('7200');
    await policy.getByRole('button', { name: 'Save password policy' }).click();
    await expect.poll(() => policy.getByRole('status').textContent()).toMatch(/baseDelaySeconds/);

    const settings = await server.request('/v1/tenant/settings', bearer(owner.accessToken));
    expect(settings.json()).toMatchObject({
      passwordPolicy: { minLength: 20, mfaRequiredRoles: ['member'], lockout: { baseDelaySeconds: 30 } },
    });
    // The same 19-character password is now refused.
    const after = await server.request(
      '/v1/users',
      json(
        { displayName: 'After', email: 'after@admin.example', password: NINETEEN, roles: ['member'] },
        owner.accessToken,
      ),
    );
    expect(after.status).toBe(400);
    expect(after.json<{ error: { code: string } }>().error.code).toBe('password_policy');
    // And a member's next sign-in owes the enrolment: the token is narrowed to `profile`.
    const owed = await tokenRequest(server, {
      grant_type: 'password',
      username: 'before@admin.example',
      password: NINETEEN,
      scope: 'profile chat',
      tenant_id: owner.tenantId,
    });
    expect(owed.json()).toMatchObject({ scope: 'profile', parley_notice: 'mfa_enrollment_required' });
  });

  it('makes a member whose role requires MFA enrol with the QR code, save recovery codes, then sign in with a code', async () => {
    const member = await chromium.browser.newPage();
    await member.setViewportSize({ width: 1100, height: 900 });
    await member.goto(`${server.url}/console/`);
    await fillSignIn(member, owner.tenantId, 'before@admin.example', NINETEEN);
    await member.getByRole('heading', { name: 'Set up two-factor sign-in' }).waitFor();
    await member.getByLabel('Password', { exact: true }).fill(NINETEEN);
    await member.getByRole('button', { name: 'Show the QR code' }).click();
    const qr = member.getByRole('img', { name: 'QR code to add this account to an authenticator app' });
    await qr.waitFor();
    expect(
      await qr.evaluate((image) => (image as unknown as { naturalWidth: number }).naturalWidth),
    ).toBeGreaterThan(0);
    expect(await seriousAxeViolations(member)).toEqual([]);
    await member.screenshot({ path: path.join(SCREENSHOTS, 'console-mfa-enrolment.png'), fullPage: true });

    await member.getByText('Cannot scan? Type the key instead').click();
    const secret = (await member.locator('code.secret').textContent()) ?? '';
    const totp = new TOTP({ secret });
    await member.getByLabel('Code shown by the app').fill(totp.generate());
    await member.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
    const codes = member.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
    await codes.first().waitFor();
    expect(await codes.count()).toBe(10);
    await member.getByRole('button', { name: 'I have saved them' }).click();
    await member.getByText('Two-factor sign-in is on. Sign in again with a code.').waitFor();

    await fillSignIn(member, owner.tenantId, 'before@admin.example', NINETEEN);
    const code = member.getByLabel('Code from your authenticator app');
    await code.fill(totp.generate({ timestamp: Date.now() + 30_000 }));
    await code.press('Enter');
    await acceptRequiredPurposes(member); // created by an admin, the member has not accepted them yet
    await member.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await member.close();
  });

  it('creates an OAuth client and shows its secret once, rotates it (old secret refused) and deletes the client', async () => {
    await openPage(page, 'OAuth clients');
    const form = page.getByRole('form', { name: 'Create a client' });
    await form.getByLabel('Name').fill('Billing sync');
    await form.getByLabel('admin', { exact: true }).check();
    await form.getByRole('button', { name: 'Create client' }).click();
    const secretText = page.getByTestId('client-secret');
    await secretText.waitFor();
    const secret = (await secretText.textContent()) ?? '';
    const clientId = (await page.locator('.secret-once dd code').first().textContent()) ?? '';
    expect(secret.length).toBeGreaterThan(20);

    const granted = await tokenRequest(server, {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: secret,
      scope: 'admin',
    });
    expect(granted.status).toBe(200);

    await page.getByRole('button', { name: 'I have copied it' }).click();
    await page.getByRole('heading', { name: 'Copy the client secret now' }).waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(secret);
    await page.getByText(clientId).waitFor(); // the id stays listed (from GET /v1/clients)
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-clients.png'), fullPage: true });

    // Rotation: a new secret, shown once; the old one is refused from now on.
    await page.getByRole('button', { name: 'Rotate the secret of Billing sync' }).click();
    await page.getByRole('button', { name: 'Confirm: new secret for Billing sync' }).click();
    await secretText.waitFor();
    const rotated = (await secretText.textContent()) ?? '';
    expect(rotated).not.toBe(secret);
    const grant = (clientSecret: string) =>
      tokenRequest(server, {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        scope: 'admin',
      });
    expect((await grant(secret)).status).toBe(401);
    expect((await grant(rotated)).status).toBe(200);
    await page.getByRole('button', { name: 'I have copied it' }).click();

    // Deletion: asks first; then even the new secret is refused.
    await page.getByRole('button', { name: 'Delete Billing sync' }).click();
    await page.getByRole('button', { name: 'Confirm: delete Billing sync' }).click();
    await page.getByText('Billing sync deleted; its tokens ended.').waitFor();
    expect((await grant(rotated)).status).toBe(401);
    expect(await page.getByText(clientId).count()).toBe(0);
  });

  it('lists a user’s sessions on the Users page and revokes one: that device is signed out, the other is not', async () => {
    const email = 'laptop@admin.example';
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Lena Laptop', email, password: memberPassword, roles: ['support_agent'] },
        owner.accessToken,
      ),
    );
    expect(created.status).toBe(201);
    const laptop = await signIn(server, owner.tenantId, email, memberPassword, 'profile');
    await new Promise((resolve) => setTimeout(resolve, 5)); // distinct creation times, newest first
    const phone = await signIn(server, owner.tenantId, email, memberPassword, 'profile');

    await openPage(page, 'Users');
    const find = page.getByRole('form', { name: 'Find a user' });
    await find.getByLabel('E-mail address').fill(email);
    await find.getByRole('button', { name: 'Find' }).click();
    await page.getByRole('button', { name: 'Show sessions of Lena Laptop' }).click();
    const sessions = page.getByRole('region', { name: 'Sessions of Lena Laptop' });
    const revoke = sessions.getByRole('button', { name: /^Revoke session/ });
    await expect.poll(() => revoke.count()).toBe(2);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-user-sessions.png'), fullPage: true });
    await revoke.first().click();
    await sessions.getByRole('button', { name: /^Confirm: revoke/ }).click();
    await sessions.getByText('Session revoked: that device is signed out.').waitFor();
    await expect.poll(() => revoke.count()).toBe(1);

    const statuses = await Promise.all(
      [laptop, phone].map(
        async (tokens) => (await server.request('/v1/me', bearer(tokens.accessToken))).status,
      ),
    );
    expect(statuses.sort()).toEqual([200, 401]);
  });

  it('asks a new user for the required consents first, then changes their own password from My account', async () => {
    const email = 'ann@admin.example';
    await server.request(
      '/v1/users',
      json(
        { displayName: 'Ann Admin', email, password: 'Violet harbour engine 42 tulip', roles: ['admin'] },
        owner.accessToken,
      ),
    );
    const ann = await chromium.browser.newPage();
    await ann.goto(`${server.url}/console/`);
    await fillSignIn(ann, owner.tenantId, email, 'Violet harbour engine 42 tulip');
    // The consent the sign-in owes comes first; nothing else of the console is offered until it is given.
    await ann.getByRole('heading', { name: 'Before you continue' }).waitFor();
    expect(await ann.getByRole('navigation').count()).toBe(0);
    expect(await seriousAxeViolations(ann)).toEqual([]);
    await ann.screenshot({ path: path.join(SCREENSHOTS, 'console-consent.png'), fullPage: true });
    await acceptRequiredPurposes(ann);
    await ann.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    const consents = await signIn(server, owner.tenantId, email, 'Violet harbour engine 42 tulip', 'profile');
    const ledger = await server.request('/v1/me/consents', bearer(consents.accessToken));
    expect(
      ledger
        .json<{ consents: { purpose: { required: boolean }; state: string }[] }>()
        .consents.filter((entry) => entry.purpose.required)
        .every((entry) => entry.state === 'granted'),
    ).toBe(true);
    await openPage(ann, 'My account');
    const form = ann.getByRole('form', { name: 'Change password' });
    await form.getByLabel('Current password').fill('Violet harbour engine 42 tulip');
    await form.getByLabel('New password', { exact: true }).fill('Marble cactus violin 9 lagoon');
    await form.getByLabel('New password again').fill('Marble cactus violin 9 lagoon');
    await form.getByRole('button', { name: 'Change password' }).click();
    await ann.getByText('Password changed. Your other sessions were signed out.').waitFor();
    await ann.getByRole('form', { name: 'Set up two-factor sign-in' }).waitFor();
    await ann.screenshot({ path: path.join(SCREENSHOTS, 'console-account.png'), fullPage: true });
    const signedIn = await signIn(server, owner.tenantId, email, 'Marble cactus violin 9 lagoon', 'profile');
    expect(signedIn.accessToken).toBeTruthy();
    await ann.close();
  });

  it('is usable with the keyboard alone: navigation, a form, checkboxes and Enter to submit', async () => {
    await openPage(page, 'Users');
    // A click on the (unfocusable) brand puts the focus start at the top of the page, as a fresh load would.
    await page.locator('.brand').click();
    await page.keyboard.press('Tab'); // the first control of the page: the navigation's first link
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Users');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Roles');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Custom roles', level: 1 }).waitFor();
    await page.getByLabel('Role name').focus();
    await page.keyboard.type('kb_role');
    await page.keyboard.press('Tab'); // the first permission checkbox
    await page.keyboard.press('Space');
    await page.getByLabel('Role name').press('Enter');
    await page.getByRole('button', { name: 'Edit role kb_role' }).waitFor();
    const roles = await server.request('/v1/roles', bearer(owner.accessToken));
    expect(roles.json<{ roles: { name: string; permissions: string[] }[] }>().roles).toContainEqual({
      name: 'kb_role',
      permissions: ['profile.read'],
    });
  });

  it('has no serious or critical axe-core violation on any admin page, the sign-in page or the MFA step', async () => {
    for (const [title] of ADMIN_PAGES) {
      await openPage(page, title);
      expect({ page: title, violations: await seriousAxeViolations(page) }).toEqual({
        page: title,
        violations: [],
      });
    }
    // The check can fail: an input without a label, slipped into the page, is reported as critical.
    await page.evaluate("document.querySelector('main')?.append(document.createElement('input'))");
    expect((await seriousAxeViolations(page)).map((finding) => finding.rule)).toContain('label');
    const fresh = await chromium.browser.newPage();
    await fresh.goto(`${server.url}/console/`);
    expect(await seriousAxeViolations(fresh)).toEqual([]);
    await fillSignIn(fresh, owner.tenantId, owner.email, ownerPassword);
    await fresh.getByLabel('Code from your authenticator app').waitFor();
    expect(await seriousAxeViolations(fresh)).toEqual([]);
    await fresh.close();
  });

  it('is usable at phone width: no admin page scrolls sideways', async () => {
    const phone = await chromium.browser.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${server.url}/console/`);
    await fillSignIn(phone, owner.tenantId, 'ann@admin.example', 'Marble cactus violin 9 lagoon');
    await phone.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    for (const [title] of ADMIN_PAGES) {
      await openPage(phone, title);
      const overflow = await phone.evaluate('document.documentElement.scrollWidth - window.innerWidth');
      expect({ page: title, overflow }).toEqual({ page: title, overflow: 0 });
      if (title === 'Settings')
        await phone.screenshot({
          path: path.join(SCREENSHOTS, 'console-settings-phone.png'),
          fullPage: true,
        });
    }
    await phone.close();
  });
});
