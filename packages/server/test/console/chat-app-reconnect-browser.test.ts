import type { Page, WebSocket as PageSocket } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../support/browser-sdk.ts';
import { buildConsole } from '../support/console-build.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, signIn } from '../support/identity-fixtures.ts';
import { type LinkProxy, startLinkProxy } from '../support/link-proxy.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { fillSignIn } from '../support/browser-sign-in.ts';

/**
 * The chat web app when its connection to the server really drops, not just when the browser says it is
 * offline: Bob's Chromium reaches the server through a TCP proxy (raw bytes, TLS end to end), and the test
 * destroys every connection of the proxy and resets new ones for a while. The page's WebSocket closes; the app
 * says it lost the connection; messages typed meanwhile show as queued; once the proxy accepts again the app
 * reconnects by itself and resumes: each queued message reaches Alice exactly once, in order (her page and
 * the server's history); so does one the server stored while its ack was lost on the way back (sent again
 * with the same client id); and Alice's messages sent during the outage reach Bob after the resume, once
 * each. A second case holds the server's replay back until the app has re-read its dialogs over REST: the
 * replayed messages must still be shown (the app used to move the SDK's position past them).
 */

const chromiumSkip = chromiumMissing('chat app reconnect');
const alicePassword = 'Amber lighthouse quilt 73 walnut';
const bobPassword = 'Cobalt orchard ferry 19 maple';

const short = (userId: string) => `User ${userId.slice(0, 8)}`;

/** Opens /app/ at `origin` and signs in; resolves once the realtime connection is ready. */
async function signInToChat(page: Page, origin: string, tenantId: string, email: string, password: string) {
  await page.goto(`${origin}/app/`);
  await fillSignIn(page, tenantId, email, password);
  await page.getByText('Connected', { exact: true }).waitFor();
}

/** The message texts of the open dialog's log, top to bottom (confirmed messages only, not pending ones). */
function logBodies(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(
    "[...document.querySelectorAll('.log [data-testid=message]')].map((item) => item.querySelector('.body')?.textContent ?? '')",
  );
}

describeEachDialect('chat web app across a real connection drop', (dialect) => {
  if (chromiumSkip !== undefined) {
    it.skip(`needs Chromium: ${chromiumSkip}`, () => undefined);
    return;
  }
  let server: TestServer;
  let proxy: LinkProxy;
  let alice: { userId: string; accessToken: string };
  let bob: { userId: string; email: string };
  let dialogId: string;
  let tenantId: string;
  let aliceEmail: string;
  let chromiumA: Awaited<ReturnType<typeof launchChromium>>;
  let chromiumB: Awaited<ReturnType<typeof launchChromium>>;
  let a: Page;
  let b: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    buildConsole();
    server = await startTestServer({ dialect });
    const owner = await newTenantOwner(server, 'Reconnect Clinic');
    const member = async (name: string, email: string, password: string) => {
      const created = await server.request(
        '/v1/users',
        json({ displayName: name, email, password, roles: ['member'] }, owner.accessToken),
      );
      expect(created.status).toBe(201);
      return created.json<{ userId: string }>().userId;
    };
    const suffix = owner.tenantId.slice(-6);
    tenantId = owner.tenantId;
    aliceEmail = `alice-${suffix}@reconnect.example`;
    const aliceId = await member('Alice', aliceEmail, alicePassword);
    alice = {
      userId: aliceId,
      accessToken: (await signIn(server, owner.tenantId, aliceEmail, alicePassword, 'profile chat'))
        .accessToken,
    };
    bob = { email: `bob-${suffix}@reconnect.example`, userId: '' };
    bob.userId = await member('Bob', bob.email, bobPassword);
    // The required consent is accepted once over the API (chat-app-consent-browser.test.ts tests the step).
    await signIn(server, owner.tenantId, bob.email, bobPassword, 'profile chat');
    const direct = await server.request(
      '/v1/dialogs',
      json({ type: 'private', memberIds: [bob.userId] }, alice.accessToken),
    );
    expect(direct.status).toBe(201);
    dialogId = direct.json<{ id: string }>().id;

    // Raw TCP to the server's port: the TLS session is Chromium's with the server itself (Chromium here ignores
    // the test certificate's errors, as it does when it talks to the server directly).
    const target = new URL(server.url);
    proxy = await startLinkProxy(target.hostname, Number(target.port));
    const background = [
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ];
    chromiumA = await launchChromium(background);
    chromiumB = await launchChromium(background);
  });

  afterAll(async () => {
    await chromiumA.close();
    await chromiumB.close();
    await proxy.close();
    await server.close();
  });

  it('queues sends while the connection is down and, once it is back, delivers each exactly once in order both ways', async () => {
    a = chromiumA.browser.pages()[0] ?? (await chromiumA.browser.newPage());
    b = chromiumB.browser.pages()[0] ?? (await chromiumB.browser.newPage());
    for (const page of [a, b]) page.on('pageerror', (error) => errors.push(error.message));
    // Bob's realtime sockets, to see the real one close (not just the browser's idea of being offline).
    const bobSockets: PageSocket[] = [];
    b.on('websocket', (socket) => bobSockets.push(socket));

    const viaProxy = `https://127.0.0.1:${String(proxy.port)}`;
    await signInToChat(a, server.url, tenantId, aliceEmail, alicePassword);
    await signInToChat(b, viaProxy, tenantId, bob.email, bobPassword);
    await a
      .getByRole('navigation', { name: 'Dialogs' })
      .getByRole('button', { name: new RegExp(`^${short(bob.userId)}`) })
      .click();
    await b
      .getByRole('navigation', { name: 'Dialogs' })
      .getByRole('button', { name: new RegExp(`^${short(alice.userId)}`) })
      .click();
    const aliceLog = a.getByRole('log', { name: `Messages in ${short(bob.userId)}` });
    const bobLog = b.getByRole('log', { name: `Messages in ${short(alice.userId)}` });
    const aliceComposer = a.getByRole('textbox', { name: 'Message' });
    const bobComposer = b.getByRole('textbox', { name: 'Message' });
    await bobComposer.fill('Before the drop');
    await bobComposer.press('Enter');
    await aliceLog.getByText('Before the drop', { exact: true }).waitFor();
    await aliceComposer.fill('Seen it');
    await aliceComposer.press('Enter');
    await bobLog.getByText('Seen it', { exact: true }).waitFor();
    const live = bobSockets.filter((socket) => !socket.isClosed());
    expect(live).toHaveLength(1);
    const socketClosed = new Promise<void>((resolve) =>
      live[0]?.on('close', () => {
        resolve();
      }),
    );

    // The link dies one way first: Bob's send reaches the server and is stored (Alice sees it), but its ack
    // never reaches Bob, so his app still has it waiting; then the link drops. Sent again after the
    // reconnect with the same client id, it must not become a second message.
    proxy.holdReplies();
    await bobComposer.fill('Sent as it dropped');
    await bobComposer.press('Enter');
    await aliceLog.getByText('Sent as it dropped', { exact: true }).waitFor();
    expect(await b.getByTestId('pending').filter({ hasText: 'Sent as it dropped' }).count()).toBe(1);
    proxy.cut();
    await socketClosed;
    await b.getByText('Connection lost: reconnecting…', { exact: false }).waitFor();
    expect(await b.getByLabel('Connection').textContent()).not.toBe('Connected');

    const queued = ['Queued while down, one', 'Queued while down, two', 'Queued while down, three'];
    for (const text of queued) {
      await bobComposer.fill(text);
      await bobComposer.press('Enter');
    }
    const waiting = b.locator('[data-testid=pending][data-state=queued]');
    await expect.poll(() => waiting.count()).toBeGreaterThanOrEqual(queued.length);
    expect(await waiting.filter({ hasText: 'Queued while down' }).allTextContents()).toHaveLength(3);
    await b.getByText(/\d+ messages queued: sent when back online\./).waitFor();

    // Alice, still connected, writes during the outage.
    const meanwhile = ['Meanwhile, one', 'Meanwhile, two'];
    for (const text of meanwhile) {
      await aliceComposer.fill(text);
      await aliceComposer.press('Enter');
      await aliceLog.getByText(text, { exact: true }).waitFor();
      // Stored (the server's message replaced the one shown while sending) before the next is sent.
      await expect.poll(() => a.getByTestId('pending').count()).toBe(0);
    }
    // And a busy dialog: many more from another of Alice's devices, so the replay after the reconnect is long.
    const busy = Array.from({ length: 60 }, (_, index) => `Busy while down ${String(index + 1)}`);
    for (const body of busy) {
      const sent = await server.request(
        `/v1/dialogs/${dialogId}/messages`,
        json({ clientId: body, body }, alice.accessToken),
      );
      expect(sent.status).toBe(201);
    }
    // Down for a while: Bob's reconnect attempts are reset by the proxy, nothing crosses either way.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await aliceLog.getByText(/Queued while down/).count()).toBe(0);
    expect(await bobLog.getByText(/Meanwhile/).count()).toBe(0);
    expect(await b.getByText('Connected', { exact: true }).count()).toBe(0);
    expect(bobSockets.filter((socket) => !socket.isClosed())).toHaveLength(0);
    // The app kept trying: its reconnects were refused by the link.
    expect(proxy.refused).toBeGreaterThan(0);

    proxy.restore();
    await b.getByText('Connected', { exact: true }).waitFor({ timeout: 60_000 });
    expect(bobSockets.length).toBeGreaterThan(1);
    await expect.poll(() => b.getByTestId('pending').count(), { timeout: 30_000 }).toBe(0);
    await aliceLog.getByText(queued[2] ?? '', { exact: true }).waitFor({ timeout: 30_000 });
    await bobLog.getByText(busy.at(-1) ?? '', { exact: true }).waitFor({ timeout: 30_000 });
    await expect.poll(() => b.getByText('Connection lost').count()).toBe(0);
    // Give a duplicate time to show up, then count on both pages and on the server.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const sentByBob = ['Sent as it dropped', ...queued];
    const expected = ['Before the drop', 'Seen it', ...meanwhile, ...busy, ...sentByBob];
    for (const text of expected) {
      expect(await aliceLog.getByText(text, { exact: true }).count(), text).toBe(1);
      expect(await bobLog.getByText(text, { exact: true }).count(), text).toBe(1);
    }
    // Bob's sends in the order he typed them; each side's log in the server's order.
    const history = await server.request(
      `/v1/dialogs/${dialogId}/messages?limit=100`,
      bearer(alice.accessToken),
    );
    expect(history.status).toBe(200);
    const stored = history
      .json<{ messages: { body: string | null; seq: number }[] }>()
      .messages.sort((x, y) => x.seq - y.seq)
      .map((message) => message.body ?? '');
    for (const text of expected)
      expect(
        stored.filter((body) => body === text),
        text,
      ).toHaveLength(1);
    expect(stored.filter((body) => sentByBob.includes(body))).toEqual(sentByBob);
    expect(await logBodies(a)).toEqual(stored);
    expect(await logBodies(b)).toEqual(stored);
    // Alice's outage messages reached Bob after the resume, in order.
    expect(
      (await logBodies(b)).filter((body) => body.startsWith('Meanwhile') || body.startsWith('Busy')),
    ).toEqual([...meanwhile, ...busy]);
    expect(errors).toEqual([]);
  });

  it('keeps what the server replays after a reconnect even when it arrives after the app re-read its dialogs', async () => {
    // From here on Bob's realtime socket runs through Playwright, which passes every frame on but holds the
    // server's `message.new` frames back for a while: the replay of what Bob missed arrives after `ready`
    // and after the app's own REST look at the dialogs (whose newest seq is already past the replay).
    let holdReplay = false;
    await b.routeWebSocket(/\/v1\/realtime/, (page) => {
      const upstream = page.connectToServer();
      let order = Promise.resolve();
      upstream.onMessage((message) => {
        const late = holdReplay && typeof message === 'string' && message.startsWith('{"type":"message.new"');
        order = order.then(async () => {
          if (late) await new Promise((resolve) => setTimeout(resolve, 1500));
          page.send(message);
        });
      });
    });
    // The SDK takes the WebSocket class when it is made: a fresh page (a reload signs out) gets the routed one.
    await signInToChat(b, `https://127.0.0.1:${String(proxy.port)}`, tenantId, bob.email, bobPassword);
    await b
      .getByRole('navigation', { name: 'Dialogs' })
      .getByRole('button', { name: new RegExp(`^${short(alice.userId)}`) })
      .click();
    const bobLog = b.getByRole('log', { name: `Messages in ${short(alice.userId)}` });
    await bobLog.getByText('Queued while down, three', { exact: true }).waitFor();
    proxy.cut();
    await b.getByText('Connection lost: reconnecting…', { exact: false }).waitFor();
    const missed = ['Missed, one', 'Missed, two', 'Missed, three'];
    for (const body of missed) {
      const sent = await server.request(
        `/v1/dialogs/${dialogId}/messages`,
        json({ clientId: body, body }, alice.accessToken),
      );
      expect(sent.status).toBe(201);
    }
    holdReplay = true;
    proxy.restore();
    await b.getByText('Connected', { exact: true }).waitFor({ timeout: 60_000 });
    for (const body of missed) await bobLog.getByText(body, { exact: true }).waitFor({ timeout: 15_000 });
    holdReplay = false;
    // Live again: the next message arrives as usual.
    await a.getByRole('textbox', { name: 'Message' }).fill('After the replay');
    await a.getByRole('textbox', { name: 'Message' }).press('Enter');
    await bobLog.getByText('After the replay', { exact: true }).waitFor();
    const bodies = await logBodies(b);
    expect(bodies.slice(-4)).toEqual([...missed, 'After the replay']);
    expect(errors).toEqual([]);
  });
});
