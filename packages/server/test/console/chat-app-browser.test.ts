import { readFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { TOTP, URI } from 'otpauth';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../support/browser-sdk.ts';
import { seriousAxeViolations } from './axe.ts';
import { describeEachDialect } from '../support/dialects.ts';
import {
  bearer,
  json,
  newTenantOwner,
  ownerPassword,
  signIn,
  type SignedIn,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { buildConsole } from '../support/console-build.ts';

/**
 * The chat web app (/app/) in Debian's Chromium against a real server, two users in two browsers (each its own
 * profile: its own storage, network and media). Promises: sign-in with the MFA step; dialogs with unread
 * counts; older history loaded by scrolling up; a message, typing, a reaction, a read receipt, an image
 * attachment (uploaded with progress, previewed, downloaded byte for byte), an edit and a deletion reach the
 * other side live; search highlights its matches; two messages sent while offline show as queued and arrive
 * exactly once each after the network is back; a video call with Chromium's fake camera and microphone
 * reaches `connected` on both sides. Attacks tried: script-like text in a display name, a dialog name,
 * messages (and so search snippets) and a file name never runs, and the CSP reports no violation.
 */

const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
const SCREENSHOTS = path.join(REPO_ROOT, 'docs/screenshots');
const chromiumSkip = chromiumMissing('chat web app');

const XSS_NAME = '<img src=x onerror=window.__xss=1>';
const XSS_DIALOG = '<script>window.__xss=2</script> Ward 7';
const XSS_FILE = '<img src=x onerror=window.__xss=3>.png';
const XSS_MESSAGE = 'zebra crossing <img src=x onerror=window.__xss=4> <script>window.__xss=5</script>';
const bobPassword = 'Violet harbour engine 42 tulip';

/** A small solid PNG (the server sniffs the type from these bytes). */
function png(size: number, rgb: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([
    Buffer.from([0]),
    Buffer.alloc(size * 3).map((_, index) => rgb[index % 3] ?? 0),
  ]);
  const pixels = Buffer.concat(Array.from({ length: size }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

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

interface Browser {
  context: BrowserContext;
  page: Page;
  close: () => Promise<void>;
  cspViolations: string[];
  errors: string[];
}

async function openBrowser(): Promise<Browser> {
  const chromium = await launchChromium([
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    // Two browsers talk at once: neither may be throttled as a background window.
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
  ]);
  const page = chromium.browser.pages()[0] ?? (await chromium.browser.newPage());
  const cspViolations: string[] = [];
  const errors: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.setViewportSize({ width: 1100, height: 760 });
  return { context: chromium.browser, page, close: chromium.close, cspViolations, errors };
}

const short = (userId: string) => `User ${userId.slice(0, 8)}`;

describeEachDialect('chat web app in Chromium', (dialect) => {
  if (chromiumSkip !== undefined) {
    it.skip(`needs Chromium: ${chromiumSkip}`, () => undefined);
    return;
  }
  let server: TestServer;
  let alice: SignedIn;
  let totp: TOTP;
  let bob: { userId: string; email: string };
  let privateId: string;
  let groupId: string;
  let a: Browser;
  let b: Browser;
  const image = png(48, [36, 86, 199]);
  const screenshots = dialect === 'sqlite';

  beforeAll(async () => {
    // The app as `npm run build` builds it; NODE_ENV=production for React's production build.
    buildConsole();
    server = await startTestServer({ dialect });
    alice = await newTenantOwner(server, 'Chat Clinic');
    totp = await enrolTotp(server, alice);
    const email = `bob-${alice.tenantId.slice(-6)}@chat.example`;
    const created = await server.request(
      '/v1/users',
      json({ displayName: XSS_NAME, email, password: bobPassword, roles: ['member'] }, alice.accessToken),
    );
    expect(created.status).toBe(201);
    bob = { userId: created.json<{ userId: string }>().userId, email };
    const bobToken = (await signIn(server, alice.tenantId, email, bobPassword, 'profile chat')).accessToken;

    const direct = await server.request(
      '/v1/dialogs',
      json({ type: 'private', memberIds: [bob.userId] }, alice.accessToken),
    );
    expect(direct.status).toBe(201);
    privateId = direct.json<{ id: string }>().id;
    const group = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: XSS_DIALOG, memberIds: [bob.userId] }, alice.accessToken),
    );
    expect(group.status).toBe(201);
    groupId = group.json<{ id: string }>().id;
    // History for infinite scroll: 75 messages in the group (the app loads 30 per page).
    for (let index = 1; index <= 75; index += 1) {
      const sent = await server.request(
        `/v1/dialogs/${groupId}/messages`,
        json({ clientId: `seed-${String(index)}`, body: `seed message ${String(index)}` }, alice.accessToken),
      );
      expect(sent.status).toBe(201);
    }
    // Unread for Alice when she signs in.
    for (const body of ['Are you there?', 'Ward round moved to ten'])
      expect(
        (await server.request(`/v1/dialogs/${privateId}/messages`, json({ clientId: body, body }, bobToken)))
          .status,
      ).toBe(201);

    a = await openBrowser();
    b = await openBrowser();
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    await server.close();
  });

  it('serves /app/ over HTTPS with the console CSP: no inline script, eval or framing', async () => {
    expect(server.url).toMatch(/^https:\/\//);
    const page = await server.request('/app/');
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
    expect(page.text).toContain('<title>Parley chat</title>');
    const scripts = [...page.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/src="\/console\/assets\/[\w-]+\.js"/);
      expect(body?.trim()).toBe('');
    }
    expect(page.text).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    // Any app path is the page; a file name under /app/ is not served; /app redirects.
    const route = await server.request('/app/dialogs/anything');
    expect(route.status).toBe(200);
    expect(route.text).toBe(page.text);
    expect((await server.request('/app/main.js')).status).toBe(404);
    expect((await server.request('/app/%2e%2e/%2e%2e/package.json')).status).toBe(404);
    const bare = await server.request('/app');
    expect(bare.status).toBe(308);
    expect(bare.headers.location).toBe('/app/');
    // The console is still there, with its own page.
    const console = await server.request('/console/');
    expect(console.status).toBe(200);
    expect(console.text).toContain('<title>Parley console</title>');
  });

  it('signs in (Alice with her authenticator code) and lists the dialogs with unread counts', async () => {
    const tokens: string[] = [];
    a.page.on('response', (response) => {
      if (!response.url().endsWith('/oauth/token') || response.status() !== 200) return;
      void response.json().then((body: { access_token: string; refresh_token: string }) => {
        tokens.push(body.access_token, body.refresh_token);
      });
    });
    await a.page.goto(`${server.url}/app/`);
    await a.page.getByLabel('Tenant id').waitFor();
    // The first page on loopback: loaded (scripts and styles included) well within a second.
    const loadMs = Number(
      await a.page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"),
    );
    expect(loadMs).toBeGreaterThan(0);
    expect(loadMs).toBeLessThan(1000);
    await a.page.getByLabel('Tenant id').fill(alice.tenantId);
    await a.page.getByLabel('E-mail').fill(alice.email);
    await a.page.getByLabel('Password').fill(ownerPassword);
    if (screenshots) await a.page.screenshot({ path: path.join(SCREENSHOTS, 'chat-sign-in.png') });
    expect(await seriousAxeViolations(a.page)).toEqual([]);
    await a.page.getByLabel('Password').press('Enter');
    const code = a.page.getByLabel('Code from your authenticator app');
    await code.waitFor();
    await code.fill(totp.generate({ timestamp: Date.now() + 30_000 }));
    await code.press('Enter');
    await a.page.getByText('Connected', { exact: true }).waitFor();

    await b.page.goto(`${server.url}/app/`);
    await b.page.getByLabel('Tenant id').fill(alice.tenantId);
    await b.page.getByLabel('E-mail').fill(bob.email);
    await b.page.getByLabel('Password').fill(bobPassword);
    await b.page.getByRole('button', { name: 'Sign in' }).click();
    await b.page.getByText('Connected', { exact: true }).waitFor();
    // Bob's display name is script-like: shown as text.
    expect(await b.page.getByTestId('my-name').textContent()).toBe(XSS_NAME);

    const dialogs = a.page.getByRole('navigation', { name: 'Dialogs' });
    // Named for screen readers with its presence and unread count.
    await dialogs
      .getByRole('button', { name: new RegExp(`^${short(bob.userId)}\\s*, online\\s*, 2 unread`) })
      .waitFor();
    const direct = dialogs.getByRole('button', { name: new RegExp(`^${short(bob.userId)}`) });
    expect(await direct.getByTestId('unread').textContent()).toBe(', 2 unread');
    // The group's name is script-like: shown as text.
    await dialogs.getByRole('button', { name: new RegExp(`^${escape(XSS_DIALOG)}`) }).waitFor();

    // Tokens in memory only: not in storage, cookies or the address bar.
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    const stored = await a.page.evaluate(
      'JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie])',
    );
    for (const token of tokens) {
      expect(stored).not.toContain(token);
      expect(a.page.url()).not.toContain(token);
    }
    expect((await a.context.cookies()).length).toBe(0);

    await direct.click();
    const log = a.page.getByRole('log', { name: `Messages in ${short(bob.userId)}` });
    await log.getByText('Ward round moved to ten', { exact: true }).waitFor();
    await expect.poll(() => direct.getByTestId('unread').count()).toBe(0);
  });

  it('chats live: typing, a message, a reaction, a read receipt, presence, an edit and a deletion', async () => {
    const aliceLog = a.page.getByRole('log', { name: `Messages in ${short(bob.userId)}` });
    await b.page
      .getByRole('navigation', { name: 'Dialogs' })
      .getByRole('button', { name: new RegExp(`^${short(alice.userId)}`) })
      .click();
    const bobLog = b.page.getByRole('log', { name: `Messages in ${short(alice.userId)}` });
    await bobLog.getByText('Are you there?', { exact: true }).waitFor();
    // Presence: each sees the other online.
    await expect.poll(() => a.page.getByTestId('peer-presence').textContent()).toBe('online');

    const composer = a.page.getByRole('textbox', { name: 'Message' });
    await composer.pressSequentially('Hello Bob <b>not bold</b>');
    await b.page.getByText(`${short(alice.userId)} is typing…`).waitFor();
    await composer.press('Enter');
    const received = bobLog.getByTestId('message').filter({ hasText: 'Hello Bob <b>not bold</b>' });
    await received.waitFor();
    expect(await received.locator('b').count()).toBe(0);
    await expect.poll(() => b.page.getByText('is typing…').count()).toBe(0);

    // Bob reacts; Alice sees it.
    await received.getByRole('button', { name: /^React to message/ }).click();
    await received.getByRole('button', { name: 'React with 👍' }).click();
    const sent = aliceLog.getByTestId('message').filter({ hasText: 'Hello Bob <b>not bold</b>' });
    await sent.getByRole('button', { name: '👍 1' }).waitFor();
    // Bob has the dialog open: Alice's last message shows as read.
    await expect.poll(() => sent.getByTestId('receipt').textContent()).toBe('Read');
    if (screenshots) await a.page.screenshot({ path: path.join(SCREENSHOTS, 'chat-dialog.png') });
    expect(await seriousAxeViolations(a.page)).toEqual([]);

    // Edit, then delete for everyone.
    await composer.fill('A typo hree');
    await composer.press('Enter');
    const typo = aliceLog.getByTestId('message').filter({ hasText: 'A typo hree' });
    await typo.getByRole('button', { name: 'Edit' }).click();
    const edit = aliceLog.getByRole('form', { name: 'Edit message' });
    expect(await edit.getByLabel('New text').inputValue()).toBe('A typo hree');
    await edit.getByLabel('New text').fill('A typo here, fixed');
    await edit.getByLabel('New text').press('Enter');
    const fixed = bobLog.getByTestId('message').filter({ hasText: 'A typo here, fixed' });
    await fixed.getByText(/edited/).waitFor();
    await aliceLog
      .getByTestId('message')
      .filter({ hasText: 'A typo here, fixed' })
      .getByRole('button', { name: 'Delete for everyone' })
      .click();
    await expect.poll(() => bobLog.getByText('A typo here, fixed').count()).toBe(0);
    await expect.poll(() => bobLog.getByText('Message deleted').count()).toBeGreaterThan(0);
  });

  it('sends an image with a script-like file name: progress, preview on the other side, byte-exact download', async () => {
    const aliceLog = a.page.getByRole('log', { name: `Messages in ${short(bob.userId)}` });
    const bobLog = b.page.getByRole('log', { name: `Messages in ${short(alice.userId)}` });
    await a.page
      .getByLabel('Attach files')
      .setInputFiles({ name: XSS_FILE, mimeType: 'image/png', buffer: image });
    const uploads = a.page.getByRole('list', { name: 'Attachments to send' });
    await uploads.getByText(/uploaded/).waitFor();
    expect(await uploads.getByText(XSS_FILE, { exact: true }).count()).toBe(1);
    await a.page.getByRole('textbox', { name: 'Message' }).fill('The scan');
    await a.page.getByRole('button', { name: 'Send', exact: true }).click();

    const attachment = bobLog.getByTestId('attachment').filter({ hasText: XSS_FILE });
    await attachment.waitFor();
    const preview = attachment.getByRole('img', { name: `Preview of ${XSS_FILE}` });
    await preview.waitFor();
    expect(await preview.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    await expect
      .poll(() => b.page.evaluate("document.querySelector('.log img.preview').naturalWidth"))
      .toBe(48);
    // Only the preview is an image in the log: the file name made none.
    expect(await bobLog.locator('img').count()).toBe(1);

    const [download] = await Promise.all([
      b.page.waitForEvent('download'),
      attachment.getByRole('button', { name: `Download ${XSS_FILE}` }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/onerror.*\.png$/);
    const saved = await download.path();
    expect(readFileSync(saved)).toEqual(image);
    await aliceLog.getByTestId('attachment').filter({ hasText: XSS_FILE }).waitFor();
    if (screenshots) await b.page.screenshot({ path: path.join(SCREENSHOTS, 'chat-attachment.png') });
  });

  it('finds messages with the matches highlighted, script-like text staying text', async () => {
    const composer = a.page.getByRole('textbox', { name: 'Message' });
    await composer.fill(XSS_MESSAGE);
    await composer.press('Enter');
    const bobLog = b.page.getByRole('log', { name: `Messages in ${short(alice.userId)}` });
    await bobLog.getByText(XSS_MESSAGE, { exact: true }).waitFor();

    await b.page.getByRole('button', { name: 'Search', exact: true }).click();
    const search = b.page.getByRole('search');
    await search.getByLabel('Search messages').fill('zebra');
    await search.getByRole('button', { name: 'Search', exact: true }).click();
    const snippet = b.page.getByTestId('snippet').first();
    await snippet.waitFor();
    expect(await snippet.locator('mark').allTextContents()).toEqual(['zebra']);
    expect(await snippet.textContent()).toContain('<script>');
    expect(await snippet.locator('img, script').count()).toBe(0);
    if (screenshots) await b.page.screenshot({ path: path.join(SCREENSHOTS, 'chat-search.png') });
    expect(await seriousAxeViolations(b.page)).toEqual([]);
    await b.page.getByRole('button', { name: 'Close search' }).click();
  });

  it('queues sends made offline and delivers each exactly once after the network is back', async () => {
    const aliceLog = a.page.getByRole('log', { name: `Messages in ${short(bob.userId)}` });
    const bobComposer = b.page.getByRole('textbox', { name: 'Message' });
    await b.context.setOffline(true);
    await b.page.getByText('You are offline.', { exact: false }).waitFor();
    for (const text of ['Sent offline, one', 'Sent offline, two']) {
      await bobComposer.fill(text);
      await bobComposer.press('Enter');
    }
    const pending = b.page.getByTestId('pending');
    await expect.poll(() => pending.count()).toBe(2);
    expect(
      await b.page.evaluate<string[]>(
        "[...document.querySelectorAll('[data-testid=pending]')].map((item) => item.dataset.state)",
      ),
    ).toEqual(['queued', 'queued']);
    await b.page.getByText('2 messages queued: sent when back online.', { exact: false }).waitFor();
    expect(await b.page.getByLabel('Connection').textContent()).toBe('Offline');
    // Nothing reached Alice while Bob is offline.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await aliceLog.getByText(/Sent offline/).count()).toBe(0);
    if (screenshots) await b.page.screenshot({ path: path.join(SCREENSHOTS, 'chat-offline.png') });

    await b.context.setOffline(false);
    await expect.poll(() => pending.count(), { timeout: 60_000 }).toBe(0);
    await aliceLog.getByText('Sent offline, two', { exact: true }).waitFor({ timeout: 30_000 });
    // Give a duplicate time to show up, then count: once each, in order, on both sides and on the server.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await aliceLog.getByText('Sent offline, one', { exact: true }).count()).toBe(1);
    expect(await aliceLog.getByText('Sent offline, two', { exact: true }).count()).toBe(1);
    const bobLog = b.page.getByRole('log', { name: `Messages in ${short(alice.userId)}` });
    expect(await bobLog.getByText('Sent offline, one', { exact: true }).count()).toBe(1);
    const history = await server.request(
      `/v1/dialogs/${privateId}/messages?limit=20`,
      json(undefined, alice.accessToken, 'GET'),
    );
    const bodies = history
      .json<{ messages: { body: string | null }[] }>()
      .messages.map((entry) => entry.body);
    expect(bodies.filter((body) => body?.startsWith('Sent offline'))).toEqual([
      'Sent offline, one',
      'Sent offline, two',
    ]);
    await expect.poll(() => b.page.getByText('You are offline.').count()).toBe(0);
  });

  it('loads older history when scrolled to the top of a long dialog (phone width)', async () => {
    await b.page.setViewportSize({ width: 390, height: 844 });
    // At phone width the open dialog fills the screen; its back button shows the list again.
    await b.page.getByRole('button', { name: 'Back to dialogs' }).click();
    await b.page
      .getByRole('navigation', { name: 'Dialogs' })
      .getByRole('button', { name: new RegExp(`^${escape(XSS_DIALOG)}`) })
      .click();
    const log = b.page.getByRole('log', { name: `Messages in ${XSS_DIALOG}` });
    await log.getByText('seed message 75', { exact: true }).waitFor();
    expect(await b.page.getByRole('heading', { name: XSS_DIALOG }).count()).toBe(1);
    expect(await log.getByText('seed message 1', { exact: true }).count()).toBe(0);
    if (screenshots) await b.page.screenshot({ path: path.join(SCREENSHOTS, 'chat-phone.png') });
    expect(await seriousAxeViolations(b.page)).toEqual([]);
    for (let attempt = 0; attempt < 10; attempt += 1) {
      if ((await log.getByText('Start of the conversation').count()) > 0) break;
      // Keyboard: the focused message log scrolls to its top with Home.
      await log.press('Home');
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    await log.getByText('seed message 1', { exact: true }).waitFor();
    await log.getByText('Start of the conversation').waitFor();
    const seqs = await b.page.evaluate<number[]>(
      "[...document.querySelectorAll('.log [data-testid=message]')].map((item) => Number(item.dataset.seq))",
    );
    expect(seqs).toHaveLength(75);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    // A message in a dialog Alice does not have open counts as unread there, live.
    const groupItem = a.page
      .getByRole('navigation', { name: 'Dialogs' })
      .getByRole('button', { name: new RegExp(`^${escape(XSS_DIALOG)}`) });
    expect(await groupItem.getByTestId('unread').count()).toBe(0);
    const composer = b.page.getByRole('textbox', { name: 'Message' });
    await composer.fill('Read them all');
    await composer.press('Enter');
    await expect.poll(() => groupItem.getByTestId('unread').textContent()).toBe(', 1 unread');
    await b.page.getByRole('button', { name: 'Back to dialogs' }).click();
    await b.page.getByRole('navigation', { name: 'Dialogs' }).waitFor();
    if (screenshots) await b.page.screenshot({ path: path.join(SCREENSHOTS, 'chat-phone-dialogs.png') });
    await b.page.setViewportSize({ width: 1100, height: 760 });
  });

  it('makes a video call between the two browsers with fake camera and microphone', async () => {
    await b.page
      .getByRole('navigation', { name: 'Dialogs' })
      .getByRole('button', { name: new RegExp(`^${short(alice.userId)}`) })
      .click();
    await a.page.getByRole('button', { name: 'Video call' }).click();
    const ringing = b.page.getByRole('alertdialog', { name: /Incoming video call/ });
    await ringing.waitFor();
    await ringing.getByRole('button', { name: 'Accept' }).click();
    await expect
      .poll(() => a.page.getByTestId('call-status').textContent(), { timeout: 30_000 })
      .toBe(`Connected with ${short(bob.userId)}`);
    await expect
      .poll(() => b.page.getByTestId('call-status').textContent(), { timeout: 30_000 })
      .toBe(`Connected with ${short(alice.userId)}`);
    // Video from the other side plays.
    expect(await a.page.getByRole('region', { name: 'Call' }).locator('video').count()).toBe(2);
    await expect
      .poll(() => a.page.evaluate("document.querySelectorAll('.call video')[1].videoWidth"), {
        timeout: 20_000,
      })
      .toBeGreaterThan(0);
    if (screenshots) await a.page.screenshot({ path: path.join(SCREENSHOTS, 'chat-call.png') });
    expect(await seriousAxeViolations(a.page)).toEqual([]);
    await a.page.getByRole('button', { name: 'Hang up' }).click();
    await b.page.getByText('Call ended.').waitFor();
  });

  it('makes a group audio call to the members of a group dialog', async () => {
    await a.page
      .getByRole('navigation', { name: 'Dialogs' })
      .getByRole('button', { name: new RegExp(`^${escape(XSS_DIALOG)}`) })
      .click();
    await a.page.getByRole('heading', { name: XSS_DIALOG }).waitFor();
    await a.page
      .getByRole('log', { name: `Messages in ${XSS_DIALOG}` })
      .getByText('Read them all', { exact: true })
      .waitFor();
    expect(
      await a.page
        .getByRole('navigation', { name: 'Dialogs' })
        .getByRole('button', { name: new RegExp(`^${escape(XSS_DIALOG)}`) })
        .getByTestId('unread')
        .count(),
    ).toBe(0);
    await a.page.getByRole('button', { name: 'Audio call' }).click();
    const ringing = b.page.getByRole('alertdialog', { name: /Incoming audio call/ });
    await ringing.waitFor();
    await ringing.getByRole('button', { name: 'Accept' }).click();
    await expect
      .poll(() => b.page.getByTestId('call-status').textContent(), { timeout: 30_000 })
      .toBe(`Connected with ${short(alice.userId)}`);
    const records = await server.request(
      `/v1/dialogs/${groupId}/calls`,
      json(undefined, alice.accessToken, 'GET'),
    );
    expect(records.status).toBe(200);
    expect(records.text).toContain('"media":"audio"');
    await b.page.getByRole('button', { name: 'Hang up' }).click();
    await a.page.getByText('Call ended.').waitFor();
  });

  it('shows a send the server refuses as not sent, with retry and discard', async () => {
    const composer = a.page.getByRole('textbox', { name: 'Message' });
    // Longer than a message may be (65,536 characters): the server refuses it.
    await composer.fill('x'.repeat(70_000));
    await composer.press('Enter');
    const failed = a.page.locator('[data-testid=pending][data-state=failed]');
    await failed.waitFor();
    await failed.getByRole('button', { name: 'Retry' }).click();
    await a.page.locator('[data-testid=pending][data-state=failed]').waitFor();
    await failed.getByRole('button', { name: 'Discard' }).click();
    await expect.poll(() => a.page.getByTestId('pending').count()).toBe(0);
  });

  it('retries a refused send with the same client id: delivered once when it is allowed again', async () => {
    await b.page
      .getByRole('navigation', { name: 'Dialogs' })
      .getByRole('button', { name: new RegExp(`^${escape(XSS_DIALOG)}`) })
      .click();
    await b.page.getByRole('heading', { name: XSS_DIALOG }).waitFor();
    // Alice (the group's owner) takes Bob out of the group: his send is refused.
    const removed = await server.request(
      `/v1/dialogs/${groupId}/members/${bob.userId}`,
      bearer(alice.accessToken, 'DELETE'),
    );
    expect(removed.status).toBe(204);
    const composer = b.page.getByRole('textbox', { name: 'Message' });
    await composer.fill('Sent after a retry');
    await composer.press('Enter');
    const failed = b.page.locator('[data-testid=pending][data-state=failed]');
    await failed.waitFor();
    expect(await failed.textContent()).toContain('Not sent');
    // Back in the group, Bob retries: the same client id, one message.
    const added = await server.request(
      `/v1/dialogs/${groupId}/members`,
      json({ userIds: [bob.userId] }, alice.accessToken),
    );
    expect(added.status).toBe(200);
    await failed.getByRole('button', { name: 'Retry' }).click();
    const aliceLog = a.page.getByRole('log', { name: `Messages in ${XSS_DIALOG}` });
    await aliceLog.getByText('Sent after a retry', { exact: true }).waitFor();
    const history = await server.request(
      `/v1/dialogs/${groupId}/messages?limit=10`,
      json(undefined, alice.accessToken, 'GET'),
    );
    expect(
      history
        .json<{ messages: { body: string | null }[] }>()
        .messages.filter((message) => message.body === 'Sent after a retry'),
    ).toHaveLength(1);
    expect(await aliceLog.getByText('Sent after a retry', { exact: true }).count()).toBe(1);
    // On Bob's side the server's message replaced the one shown while sending.
    await expect.poll(() => b.page.getByTestId('pending').count()).toBe(0);
    expect(
      await b.page
        .getByRole('log', { name: `Messages in ${XSS_DIALOG}` })
        .getByText('Sent after a retry', { exact: true })
        .count(),
    ).toBe(1);
  });

  it('may not be framed by another page (clickjacking)', async () => {
    const page = await a.context.newPage();
    await page.setContent(`<iframe src="${server.url}/app/" title="chat"></iframe>`);
    const frame = page.frames().find((entry) => entry !== page.mainFrame());
    expect(frame).toBeDefined();
    expect(await frame?.locator('form').count()).toBe(0);
    await page.close();
  });

  it('ran no script-like content and broke no CSP rule', async () => {
    for (const browser of [a, b]) {
      expect(await browser.page.evaluate('typeof window.__xss')).toBe('undefined');
      expect(browser.cspViolations).toEqual([]);
      expect(browser.errors).toEqual([]);
      // The CSP refuses an inline script even if one got into the page.
      await browser.page.evaluate(
        "const script = document.createElement('script'); script.textContent = 'window.__inline = 1'; document.body.append(script)",
      );
      expect(await browser.page.evaluate('typeof window.__inline')).toBe('undefined');
    }
  });
});

/** A string as a literal part of a regular expression. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
