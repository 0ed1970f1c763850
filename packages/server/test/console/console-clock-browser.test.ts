import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../support/browser-sdk.ts';
import { json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { buildConsole } from '../support/console-build.ts';
import { seriousAxeViolations } from './axe.ts';

/**
 * The console in Chromium against a server whose clock the test moves. An access token that expires while the
 * console is open is refreshed by the SDK (the refresh token rotates) and the page keeps working. The forced
 * password change: the tenant's policy makes passwords expire after a day, the clock moves two days on, and the
 * next sign-in is narrowed to `profile` with `password_change_required`; the console shows only the change form;
 * after it the user signs in again with the new password, and the old one is refused.
 * PARLEY_CONSOLE_TEST_DIALECT=postgres runs it on PostgreSQL.
 */

const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
const SCREENSHOTS = path.join(REPO_ROOT, 'docs/screenshots');
const DIALECT = process.env.PARLEY_CONSOLE_TEST_DIALECT === 'postgres' ? 'postgres' : 'sqlite';
const chromiumSkip = chromiumMissing('console with a moved clock');
const OLD = 'Violet harbour engine 42 tulip';
const NEW = 'Marble cactus violin 9 lagoon';

describe.skipIf(chromiumSkip !== undefined)(
  `console with a moved server clock in Chromium [${DIALECT}]`,
  () => {
    let offset = 0;
    const clock = { now: () => Date.now() + offset };
    let server: TestServer;
    let owner: SignedIn;
    let chromium: Awaited<ReturnType<typeof launchChromium>>;

    beforeAll(async () => {
      buildConsole();
      server = await startTestServer({ dialect: DIALECT, clock });
      owner = await newTenantOwner(server, 'Expiring Passwords Ltd', 'profile admin');
      chromium = await launchChromium();
    });

    afterAll(async () => {
      await chromium.close();
      await server.close();
    });

    it('refreshes an expired access token without asking to sign in again, rotating the refresh token', async () => {
      const email = 'rex@expiring.example';
      const created = await server.request(
        '/v1/users',
        json({ displayName: 'Rex Admin', email, password: OLD, roles: ['admin'] }, owner.accessToken),
      );
      expect(created.status).toBe(201);
      // Rex accepts the tenant's required purposes through the API first: this test is about the refresh alone.
      await signIn(server, owner.tenantId, email, OLD);
      const lifetimes = await server.request(
        '/v1/tenant/settings',
        json({ accessTokenTtlSeconds: 60 }, owner.accessToken, 'PATCH'),
      );
      expect(lifetimes.status).toBe(200);

      const page = await chromium.browser.newPage();
      const grants: string[] = [];
      const refreshTokens: string[] = [];
      page.on('request', (request) => {
        if (!request.url().endsWith('/oauth/token')) return;
        const form = new URLSearchParams(request.postData() ?? '');
        grants.push(form.get('grant_type') ?? '');
        const presented = form.get('refresh_token');
        if (presented !== null) refreshTokens.push(presented);
      });
      await page.goto(`${server.url}/console/`);
      await page.getByLabel('Tenant id').fill(owner.tenantId);
      await page.getByLabel('E-mail').fill(email);
      await page.getByLabel('Password', { exact: true }).fill(OLD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();

      offset += 2 * 60 * 1000; // the access token (60 s) has expired; the session is not idle yet (15 min)
      await page.getByRole('link', { name: 'Settings', exact: true }).click();
      await page.getByRole('heading', { name: 'Tenant settings', level: 1 }).waitFor();
      await page.getByLabel('Access token lifetime (seconds)').waitFor();
      expect(grants).toEqual(['password', 'refresh_token']);

      // Once more: the refresh token was rotated, so the second refresh presents a new one.
      offset += 2 * 60 * 1000;
      await page.getByRole('link', { name: 'Roles', exact: true }).click();
      await page.getByRole('heading', { name: 'Custom roles', level: 1 }).waitFor();
      await page.getByRole('heading', { name: 'Defined roles' }).waitFor();
      await expect.poll(() => grants).toEqual(['password', 'refresh_token', 'refresh_token']);
      expect(new Set(refreshTokens).size).toBe(2);
      expect(await page.getByText('Your session ended').count()).toBe(0);
      await page.close();
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
      // Created by an admin, Pat has not accepted the tenant's required purposes yet: that comes next.
      await page.getByRole('heading', { name: 'Before you continue' }).waitFor();
      for (const box of await page.getByRole('checkbox', { name: /^I accept:/ }).all()) await box.check();
      await page.getByRole('button', { name: 'Accept and continue' }).click();
      await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();

      await expect(signIn(server, owner.tenantId, email, OLD, 'profile')).rejects.toThrow();
      await page.close();
    });
  },
);
