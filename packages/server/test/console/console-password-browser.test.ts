import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../support/browser-sdk.ts';
import { json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { seriousAxeViolations } from './axe.ts';

/**
 * The forced password change in Chromium: the tenant's policy makes passwords expire after a day, the server's
 * clock moves two days on, and the next sign-in is narrowed to `profile` with `password_change_required`. The
 * console shows only the change form; after it the user signs in again with the new password, and the old one
 * is refused. PARLEY_CONSOLE_TEST_DIALECT=postgres runs it on PostgreSQL.
 */

const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
const SCREENSHOTS = path.join(REPO_ROOT, 'docs/screenshots');
const DIALECT = process.env.PARLEY_CONSOLE_TEST_DIALECT === 'postgres' ? 'postgres' : 'sqlite';
const chromiumSkip = chromiumMissing('console forced password change');
const OLD = 'Violet harbour engine 42 tulip';
const NEW = 'Marble cactus violin 9 lagoon';

describe.skipIf(chromiumSkip !== undefined)(`console forced password change in Chromium [${DIALECT}]`, () => {
  let offset = 0;
  const clock = { now: () => Date.now() + offset };
  let server: TestServer;
  let owner: SignedIn;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    execFileSync('npm', ['run', 'build', '-w', 'packages/console'], {
      cwd: REPO_ROOT,
      stdio: 'pipe',
      env: { ...process.env, NODE_ENV: 'production' },
    });
    server = await startTestServer({ dialect: DIALECT, clock });
    owner = await newTenantOwner(server, 'Expiring Passwords Ltd', 'profile admin');
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium.close();
    await server.close();
  });

  it('asks for a new password once the old one expired, then signs in with the new one only', async () => {
    const email = 'pat@expiring.example';
    const created = await server.request(
      '/v1/users',
      json({ displayName: 'Pat Admin', email, password: OLD, roles: ['admin'] }, owner.accessToken),
    );
    expect(created.status).toBe(201);
    const policy = await server.request(
      '/v1/tenant/settings',
      json({ passwordPolicy: { maxAgeDays: 1 } }, owner.accessToken, 'PATCH'),
    );
    expect(policy.status).toBe(200);
    offset = 2 * 24 * 3600 * 1000; // two days later

    const page = await chromium.browser.newPage();
    await page.goto(`${server.url}/console/`);
    await page.getByLabel('Tenant id').fill(owner.tenantId);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(OLD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    // Nothing else of the console is offered while the change is owed.
    expect(await page.getByRole('navigation').count()).toBe(0);
    expect(await seriousAxeViolations(page)).toEqual([]);

    const form = page.getByRole('form', { name: 'Choose a new password' });
    await form.getByLabel('Current password').fill(OLD);
    await form.getByLabel('New password', { exact: true }).fill(NEW);
    await form.getByLabel('New password again').fill(`${NEW}!`);
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByText('The two new passwords differ.').waitFor();
    await form.getByLabel('New password again').fill(NEW);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-password-change.png'), fullPage: true });
    await form.getByRole('button', { name: 'Change password' }).click();

    await page.getByText('Password changed. Sign in with the new password.').waitFor();
    await page.getByLabel('Tenant id').fill(owner.tenantId);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(NEW);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();

    await expect(signIn(server, owner.tenantId, email, OLD, 'profile')).rejects.toThrow();
    await page.close();
  });
});
