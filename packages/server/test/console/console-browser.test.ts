import path from 'node:path';
import { TOTP, URI } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../support/browser-sdk.ts';
import { json, newTenantOwner, ownerPassword, signIn, type SignedIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { buildConsole } from '../support/console-build.ts';

/**
 * The web console in Debian's Chromium against a real server (HTTPS, self-signed). Attacks tried: script-like
 * content in a user's display name (stored XSS into the Users list), an inline script slipped into the page
 * (refused by the CSP: the page has none to allow), framing the console (clickjacking), and reading the
 * tokens from storage or the address bar (they live in memory only).
 */

const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
const SCREENSHOTS = path.join(REPO_ROOT, 'docs/screenshots');
const XSS_NAME = '<img src=x onerror=window.__xss=1>';
const chromiumSkip = chromiumMissing('web console');

/** The enrolled owner's authenticator, as their phone would hold it. */
async function enrolTotp(server: TestServer, owner: SignedIn): Promise<TOTP> {
  const begun = await server.request('/v1/me/mfa/totp', json({ password: ownerPassword }, owner.accessToken));
  expect(begun.status).toBe(201);
  const totp = URI.parse(begun.json<{ otpauthUri: string }>().otpauthUri);
  if (!(totp instanceof TOTP)) throw new Error('not a TOTP URI');
  const confirmed = await server.request(
    '/v1/me/mfa/totp/confirm',
    json({ code: totp.generate() }, owner.accessToken),
  );
  expect(confirmed.status).toBe(200);
  return totp;
}

describe.skipIf(chromiumSkip !== undefined)('web console in Chromium', () => {
  let server: TestServer;
  let owner: SignedIn;
  let totp: TOTP;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    // The console as `npm run build` and `npm start` build it (Vite, into packages/console/dist).
    // NODE_ENV=production: Vitest's NODE_ENV=test would otherwise give React's development build.
    buildConsole();
    server = await startTestServer();
    owner = await newTenantOwner(server, 'Console Clinic', 'profile admin');
    totp = await enrolTotp(server, owner);
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium.close();
    await server.close();
  });

  it('serves the console over HTTPS with a CSP that allows no inline script, eval or framing', async () => {
    expect(server.url).toMatch(/^https:\/\//);
    const page = await server.request('/console/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(page.headers['cache-control']).toBe('no-cache');
    // Every script is a file of this origin: nothing inline for a CSP to have to allow.
    const scripts = [...page.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/src="\/console\/assets\/[\w-]+\.js"/);
      expect(body?.trim()).toBe('');
    }
    expect(page.text).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);

    const asset = /src="(\/console\/assets\/[\w-]+\.js)"/.exec(page.text)?.[1] ?? '';
    const script = await server.request(asset);
    expect(script.status).toBe(200);
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');

    // Console routes are the single-page app; missing assets and paths out of dist/ are not.
    const route = await server.request('/console/users');
    expect(route.status).toBe(200);
    expect(route.text).toBe(page.text);
    expect((await server.request('/console/assets/missing-0000.js')).status).toBe(404);
    const escape = await server.request('/console/%2e%2e/%2e%2e/package.json');
    expect(escape.status).toBe(404);
    expect(escape.text).not.toContain('"name"');
    const bare = await server.request('/console');
    expect(bare.status).toBe(308);
    expect(bare.headers.location).toBe('/console/');
  });

  it('signs in with TOTP, creates a user with a script-like name that does not run, and deactivates them', async () => {
    const page = await chromium.browser.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    const tokens: string[] = [];
    page.on('response', (response) => {
      if (!response.url().endsWith('/oauth/token') || response.status() !== 200) return;
      void response.json().then((body: { access_token: string; refresh_token: string }) => {
        tokens.push(body.access_token, body.refresh_token);
      });
    });
    await page.setViewportSize({ width: 1100, height: 760 });
    await page.goto(`${server.url}/console/`);

    await page.getByLabel('Tenant id').fill(owner.tenantId);
    await page.getByLabel('E-mail').fill(owner.email);
    await page.getByLabel('Password').fill(ownerPassword);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-sign-in.png') });
    await page.getByLabel('Password').press('Enter'); // keyboard: Enter submits the form

    const code = page.getByLabel('Code from your authenticator app');
    await code.waitFor();
    // The next step's code: the enrolment used the current one, and a code is accepted only once.
    await code.fill(totp.generate({ timestamp: Date.now() + 30_000 }));
    await code.press('Enter');

    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/console/users');

    const email = `xss-${Date.now()}@console.example`;
    const create = page.getByRole('form', { name: 'Create a user' });
    await create.getByLabel('Display name').fill(XSS_NAME);
    await create.getByLabel('E-mail address').fill(email);
    await create.getByLabel('Initial password').fill('Plum orchard ladder 7 quartz');
    await create.getByLabel('Role').selectOption('member');
    await create.getByRole('button', { name: 'Create user' }).click();

    const row = page.getByRole('row').filter({ hasText: email });
    await row.waitFor();
    await expect.poll(() => row.getByRole('cell').first().textContent()).toBe(XSS_NAME);
    expect(await page.locator('table img').count()).toBe(0);
    expect(await page.evaluate('typeof window.__xss')).toBe('undefined');

    await row.getByRole('button', { name: `Deactivate ${XSS_NAME}` }).click();
    await row.getByRole('button', { name: `Confirm: deactivate ${XSS_NAME}` }).click();
    await row.getByText('Deactivated.').waitFor();
    expect(await row.getByRole('cell').nth(2).textContent()).toBe('deactivated');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-users.png'), fullPage: true });

    const found = await server.request(
      `/v1/users?email=${encodeURIComponent(email)}`,
      json(undefined, owner.accessToken, 'GET'),
    );
    expect(found.json<{ users: { displayName: string; status: string }[] }>().users).toEqual([
      expect.objectContaining({ displayName: XSS_NAME, status: 'deactivated' }),
    ]);

    // The tokens live in the SDK's memory only: not in storage, cookies or the address bar.
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    const stored = await page.evaluate(
      'JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie])',
    );
    for (const token of tokens) {
      expect(stored).not.toContain(token);
      expect(page.url()).not.toContain(token);
    }
    expect(String(stored)).not.toContain('parley_');
    expect((await chromium.browser.cookies()).length).toBe(0);
    expect(violations).toEqual([]);

    // The CSP refuses an inline script even if one got into the page.
    await page.evaluate(
      "const script = document.createElement('script'); script.textContent = 'window.__inline = 1'; document.body.append(script)",
    );
    expect(await page.evaluate('typeof window.__inline')).toBe('undefined');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.close();
  });

  it('may not be framed by another page (clickjacking)', async () => {
    const page = await chromium.browser.newPage();
    // setContent resolves on the page's load event, which waits for the frame's own load (or refusal).
    await page.setContent(`<iframe src="${server.url}/console/" title="console"></iframe>`);
    const frame = page.frames().find((entry) => entry !== page.mainFrame());
    expect(frame).toBeDefined();
    // A refused frame never runs the console: no sign-in form appears in it.
    expect(await frame?.locator('form').count()).toBe(0);
    expect(frame?.url()).not.toBe(`${server.url}/console/`);
    await page.close();
  });

  it('shows a role only the actions it may take: a member may find users but not create or change them', async () => {
    const email = `mia-${Date.now()}@console.example`;
    const password = 'Violet harbour engine 42 tulip';
    const created = await server.request(
      '/v1/users',
      json({ displayName: 'Mia Member', email, password, roles: ['member'] }, owner.accessToken),
    );
    expect(created.status).toBe(201);
    // Mia accepts the tenant's required purposes first (a console page for that is not built yet).
    await signIn(server, owner.tenantId, email, password);
    const page = await chromium.browser.newPage();
    await page.setViewportSize({ width: 390, height: 844 }); // phone width
    await page.goto(`${server.url}/console/users`);
    await page.getByLabel('Tenant id').fill(owner.tenantId);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    expect(await page.getByRole('form', { name: 'Create a user' }).count()).toBe(0);

    const find = page.getByRole('form', { name: 'Find a user' });
    await find.getByLabel('E-mail address').fill(owner.email);
    await find.getByRole('button', { name: 'Find' }).click();
    const row = page.getByRole('row').filter({ hasText: owner.email });
    await row.waitFor();
    expect(await row.getByRole('button').count()).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-users-phone.png'), fullPage: true });

    // The server decides regardless: the member's own token is refused the owner-only action.
    const mia = await signIn(server, owner.tenantId, email, password, 'profile admin');
    const me = await server.request('/v1/me', json(undefined, mia.accessToken, 'GET'));
    const { permissions } = me.json<{ permissions: string[] }>();
    expect(permissions).toContain('users.read');
    expect(permissions).not.toContain('users.manage');
    expect(permissions).toEqual([...permissions].sort());
    const refused = await server.request(
      `/v1/users/${owner.userId}`,
      json({ status: 'deactivated' }, mia.accessToken, 'PATCH'),
    );
    expect(refused.status).toBe(403);
    await page.close();
  });
});
