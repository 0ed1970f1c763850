import type { ParleyClient } from '@parley/client';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleSdk, chromiumMissing, launchChromium, sdkPageRoutes } from '../support/browser-sdk.ts';
import { type ChatTenant, Inbox, newChatTenant, signedInSdk } from '../support/sdk-clients.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * The client SDK as a browser runs it: bundled for the browser (so a Node built-in or server code in the
 * client fails the build), loaded by a page served over HTTPS with a strict Content-Security-Policy, signing
 * in with `fetch` and talking over the browser's own WebSocket (WSS) to a Node user on the same server.
 * Uses Debian's Chromium; outside CI a missing browser skips the suite, with CI=true it fails.
 */

const chromiumSkip = chromiumMissing('browser SDK');

/**
 * The page's own script: plain JavaScript (functions handed to `page.evaluate` would be serialized after the
 * test runner's transform). It drives the SDK the way an app would.
 */
const PAGE_SCRIPT = `
window.parleyTest = (() => {
  const received = [];
  let client;
  return {
    async start({ tenantId, username, password, dialogId }) {
      client = new Parley.ParleyClient({ baseUrl: location.origin });
      await client.auth.signIn({ tenantId, username, password, scope: 'profile chat' });
      const realtime = client.realtime;
      realtime.on('message.new', (frame) => received.push(frame));
      realtime.connect();
      const { epoch } = await realtime.whenReady();
      const dialog = await client.request('GET', '/v1/dialogs/' + dialogId);
      realtime.track(dialogId, { seq: dialog.lastSeq, epoch });
      return { userId: realtime.session.userId, hasWebSocket: typeof WebSocket === 'function' };
    },
    send(dialogId, body) {
      return client.realtime.send(dialogId, body);
    },
    async nextFrom(senderId) {
      for (;;) {
        const found = received.find((frame) => frame.message.senderId === senderId);
        if (found) return found;
        await new Promise((resolve) => {
          const stop = client.realtime.on('message.new', () => { stop(); resolve(); });
        });
      }
    },
    close() {
      client.realtime.close();
    },
  };
})();
`;

describe.skipIf(chromiumSkip !== undefined)('the client SDK in a real browser (Chromium)', () => {
  let server: TestServer;
  let bundle: { code: string; inputs: string[] };
  let browser: BrowserContext;
  let closeBrowser: () => Promise<void>;
  let alice: ParleyClient | undefined;

  beforeAll(async () => {
    bundle = await bundleSdk();
    server = await startTestServer({ extraRoutes: sdkPageRoutes(bundle.code, PAGE_SCRIPT) });
    ({ browser, close: closeBrowser } = await launchChromium());
  });

  afterAll(async () => {
    alice?.realtime.close();
    await closeBrowser();
    await server.close();
  });

  it('bundles for the browser from the client sources alone: no Node built-ins, no server code, no protocol runtime', () => {
    const outside = bundle.inputs.filter((input) => !input.startsWith('packages/client/src/'));
    expect(outside).toEqual([]);
    expect(bundle.code).not.toMatch(/require\(["']node:/);
  });

  it('in the page, signs in through the SDK, connects over WSS and exchanges messages with a Node user', async () => {
    const chat: ChatTenant = await newChatTenant(server, 'Browser Clinic');
    const dialogId = await chat.newDialog('Browser and Node');
    const node = await signedInSdk(server, chat, 'alice');
    alice = node.client;
    const aliceInbox = new Inbox(alice.realtime, 'message.new');
    alice.realtime.connect();
    await alice.realtime.whenReady();

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}/test/sdk-page`);
    const started = await page.evaluate<{ userId: string; hasWebSocket: boolean }>(
      `window.parleyTest.start(${JSON.stringify({
        tenantId: chat.owner.tenantId,
        username: chat.bob.email,
        password: chat.bob.password,
        dialogId,
      })})`,
    );
    expect(started).toEqual({ userId: chat.bob.userId, hasWebSocket: true });

    const ack = await page.evaluate<{ id: string; seq: number }>(
      `window.parleyTest.send(${JSON.stringify(dialogId)}, 'hello from the browser')`,
    );
    expect(ack.seq).toBe(1);
    await aliceInbox.waitFor((frame) => frame.message.clientId === ack.id);
    expect(aliceInbox.events[0]?.message).toMatchObject({
      body: 'hello from the browser',
      senderId: chat.bob.userId,
    });

    await alice.realtime.send(dialogId, 'hello from Node');
    const reply = await page.evaluate<{ seq: number; message: { body: string } }>(
      `window.parleyTest.nextFrom(${JSON.stringify(chat.owner.userId)})`,
    );
    expect(reply).toMatchObject({ seq: 2, message: { body: 'hello from Node' } });
    await page.evaluate('window.parleyTest.close()');
    expect(pageErrors).toEqual([]);
  });
});
