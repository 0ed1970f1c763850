import type { Page, WebSocket as PageSocket } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../support/browser-sdk.ts';
import { buildConsole } from '../support/console-build.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { acceptOwedConsents, bearer, json, newTenantOwner } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { seriousAxeViolations } from './axe.ts';

/**
 * The chat web app (/app/) when the tenant requires consent to a purpose the user has not accepted. A member an
 * administrator created has accepted nothing: after signing in they see the consent step (every owed purpose
 * with its version and text, the text rendered as text), and the app opens no realtime socket until they
 * accept (the server would only refuse it with 4003). Declining keeps them out with a sentence saying why and
 * a sign-out button. Once accepted, the same session connects, lists the dialogs and chats. When the owner
 * publishes a new version of the required purpose while the member is signed in, the member's socket is closed
 * with 4003 at its next delivery (docs/privacy.md): the app shows the consent step again with the new text,
 * does not reconnect in a loop, and after the member accepts it connects again and the message that closed
 * the socket is shown.
 */

const chromiumSkip = chromiumMissing('chat app consent');
const bobPassword = 'Cobalt orchard ferry 19 maple';
/** Script-like purpose text: must show as these characters, never run or become elements. */
const SCRIPT_TEXT =
  '<script>window.__consentXss = 1</script><img src=x onerror="window.__consentXss = 2"> We keep your messages.';

const short = (userId: string) => `User ${userId.slice(0, 8)}`;

describeEachDialect('chat web app: the consent step', (dialect) => {
  if (chromiumSkip !== undefined) {
    it.skip(`needs Chromium: ${chromiumSkip}`, () => undefined);
    return;
  }
  let server: TestServer;
  let owner: Awaited<ReturnType<typeof newTenantOwner>>;
  let bob: { userId: string; email: string };
  let dialogId: string;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const sockets: PageSocket[] = [];
  const errors: string[] = [];

  /** The dialog's message bodies as the server stores them (what the other side receives). */
  const stored = async (): Promise<string[]> => {
    const answer = await server.request(`/v1/dialogs/${dialogId}/messages`, bearer(owner.accessToken));
    expect(answer.status).toBe(200);
    return answer
      .json<{ messages: { body: string | null }[] }>()
      .messages.map((message) => message.body ?? '');
  };

  /** Checks every purpose's box and accepts. */
  const acceptAll = async () => {
    const boxes = page.getByRole('checkbox', { name: /^I accept:/ });
    await boxes.first().waitFor();
    for (const box of await boxes.all()) await box.check();
    await page.getByRole('button', { name: 'Accept and continue' }).click();
  };

  beforeAll(async () => {
    buildConsole();
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Consent Clinic');
    const published = await server.request(
      '/v1/consent-purposes',
      json(
        {
          key: 'chat_records',
          title: 'Chat records <b>kept</b>',
          text: SCRIPT_TEXT,
          lawfulBasis: 'contract',
          required: true,
        },
        owner.accessToken,
      ),
    );
    expect(published.status).toBe(201);
    // The owner who published it owes it too (docs/privacy.md), before the admin API works again.
    await acceptOwedConsents(server, owner.accessToken);
    bob = { userId: '', email: `bob-${owner.tenantId.slice(-6)}@consent.example` };
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Bob', email: bob.email, password: bobPassword, roles: ['member'] },
        owner.accessToken,
      ),
    );
    expect(created.status).toBe(201);
    bob.userId = created.json<{ userId: string }>().userId;
    const direct = await server.request(
      '/v1/dialogs',
      json({ type: 'private', memberIds: [bob.userId] }, owner.accessToken),
    );
    expect(direct.status).toBe(201);
    dialogId = direct.json<{ id: string }>().id;
    chromium = await launchChromium([
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
    ]);
    page = chromium.browser.pages()[0] ?? (await chromium.browser.newPage());
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('websocket', (socket) => sockets.push(socket));
  });

  afterAll(async () => {
    await chromium.close();
    await server.close();
  });

  it('asks a new member for consent before connecting, keeps them out when they decline, and chats once they accept', async () => {
    await page.goto(`${server.url}/app/`);
    await page.getByLabel('Tenant id').fill(owner.tenantId);
    await page.getByLabel('E-mail').fill(bob.email);
    await page.getByLabel('Password').fill(bobPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();

    const step = page.getByRole('form', { name: 'Before you continue' });
    await step.waitFor();
    await page
      .getByRole('checkbox', { name: /^I accept:/ })
      .first()
      .waitFor();
    // Every owed purpose: the tenant's own `service` purpose and the one published above, each at version 1.
    const purposes = step.getByRole('group');
    expect(await purposes.count()).toBe(2);
    const records = purposes.filter({ hasText: 'Chat records <b>kept</b>' });
    expect(await records.locator('legend').textContent()).toBe('Chat records <b>kept</b>');
    expect(await records.getByText('Version 1', { exact: true }).count()).toBe(1);
    // The script-like text is shown as text: no element came of it and nothing ran.
    expect(await records.locator('.purpose-text').textContent()).toBe(SCRIPT_TEXT);
    expect(await step.locator('script, img, b').count()).toBe(0);
    expect(await page.evaluate('window.__consentXss')).toBeUndefined();
    expect(await seriousAxeViolations(page)).toEqual([]);

    // No realtime socket while consent is owed (it would be refused with 4003), however long the step is shown.
    await page.waitForTimeout(2500);
    expect(sockets).toHaveLength(0);

    // Declining: a clear sentence and a way out; nothing of the chat is offered.
    await page.getByRole('button', { name: 'Decline' }).click();
    await page
      .getByText(
        'Your organisation requires these purposes, so you cannot use Parley chat until you accept them.',
      )
      .waitFor();
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(1);
    expect(await page.getByRole('navigation', { name: 'Dialogs' }).count()).toBe(0);
    expect(await seriousAxeViolations(page)).toEqual([]);
    expect(sockets).toHaveLength(0);
    await page.getByRole('button', { name: 'Read them again' }).click();

    // Accepting needs every box: the browser refuses the form with one unchecked.
    await page
      .getByRole('checkbox', { name: /^I accept:/ })
      .first()
      .check();
    await page.getByRole('button', { name: 'Accept and continue' }).click();
    expect(await page.getByText('Connected', { exact: true }).count()).toBe(0);
    await acceptAll();

    await page.getByText('Connected', { exact: true }).waitFor();
    expect(sockets).toHaveLength(1);
    await page
      .getByRole('navigation', { name: 'Dialogs' })
      .getByRole('button', { name: new RegExp(`^${short(owner.userId)}`) })
      .click();
    const composer = page.getByRole('textbox', { name: 'Message' });
    await composer.fill('Hello after consenting');
    await composer.press('Enter');
    await expect.poll(stored).toContain('Hello after consenting');

    // The ledger has Bob's grants, at the versions shown.
    const bobConsents = await server.request(
      `/v1/users/${bob.userId}/consent-ledger`,
      bearer(owner.accessToken),
    );
    expect(bobConsents.status).toBe(200);
    const ledger = bobConsents.json<{ entries: { purposeKey: string; version: number; action: string }[] }>();
    expect(
      ledger.entries
        .filter((entry) => entry.action === 'grant')
        .map((entry) => `${entry.purposeKey}@${String(entry.version)}`)
        .sort(),
    ).toEqual(['chat_records@1', 'service@1']);
    expect(errors).toEqual([]);
  });

  it('shows the consent step again when a new version of a required purpose is published, without a reconnect loop', async () => {
    const before = sockets.length;
    const live = sockets.filter((socket) => !socket.isClosed());
    expect(live).toHaveLength(1);
    const closed = new Promise<void>((resolve) =>
      live[0]?.on('close', () => {
        resolve();
      }),
    );

    const reworded = await server.request(
      '/v1/consent-purposes/chat_records',
      json({ text: 'Version two: we keep your messages for 90 days.' }, owner.accessToken, 'PATCH'),
    );
    expect(reworded.status).toBe(200);
    await acceptOwedConsents(server, owner.accessToken);
    // The owner writes: the delivery finds Bob's session owing consent and closes his socket (4003).
    const sent = await server.request(
      `/v1/dialogs/${dialogId}/messages`,
      json({ clientId: 'while-owed', body: 'Sent while Bob owed consent' }, owner.accessToken),
    );
    expect(sent.status).toBe(201);
    await closed;

    const step = page.getByRole('form', { name: 'Before you continue' });
    await step.waitFor();
    await page
      .getByRole('checkbox', { name: /^I accept:/ })
      .first()
      .waitFor();
    // Only what changed is owed: the new version, with its new text.
    const purposes = step.getByRole('group');
    expect(await purposes.count()).toBe(1);
    expect(await purposes.getByText('Version 2', { exact: true }).count()).toBe(1);
    expect(await purposes.locator('.purpose-text').textContent()).toBe(
      'Version two: we keep your messages for 90 days.',
    );
    expect(await seriousAxeViolations(page)).toEqual([]);
    // No reconnect while it is owed.
    await page.waitForTimeout(2500);
    expect(sockets).toHaveLength(before);

    await acceptAll();
    await page.getByText('Connected', { exact: true }).waitFor();
    expect(sockets.length).toBeLessThanOrEqual(before + 2);
    const log = page.getByRole('log', { name: `Messages in ${short(owner.userId)}` });
    await log.getByText('Sent while Bob owed consent', { exact: true }).waitFor();
    const composer = page.getByRole('textbox', { name: 'Message' });
    await composer.fill('Accepted the new version');
    await composer.press('Enter');
    await expect.poll(stored).toContain('Accepted the new version');
    expect(errors).toEqual([]);
  });
  it('keeps a 4003 that is not about consent a notice: no consent step, no reconnect loop', async () => {
    // Carol's only role lets her read her profile but not dialogs: the server refuses her socket with 4003
    // although she owes no consent once she has accepted.
    const role = await server.request(
      '/v1/roles/profile_only',
      json({ permissions: ['profile.read'] }, owner.accessToken, 'PUT'),
    );
    expect(role.status).toBe(204);
    const email = `carol-${owner.tenantId.slice(-6)}@consent.example`;
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Carol', email, password: bobPassword, roles: ['profile_only'] },
        owner.accessToken,
      ),
    );
    expect(created.status).toBe(201);
    const carol = await chromium.browser.newPage();
    const carolSockets: PageSocket[] = [];
    carol.on('websocket', (socket) => carolSockets.push(socket));
    carol.on('pageerror', (error) => errors.push(error.message));
    await carol.goto(`${server.url}/app/`);
    await carol.getByLabel('Tenant id').fill(owner.tenantId);
    await carol.getByLabel('E-mail').fill(email);
    await carol.getByLabel('Password').fill(bobPassword);
    await carol.getByRole('button', { name: 'Sign in' }).click();
    const boxes = carol.getByRole('checkbox', { name: /^I accept:/ });
    await boxes.first().waitFor();
    for (const box of await boxes.all()) await box.check();
    await carol.getByRole('button', { name: 'Accept and continue' }).click();

    await carol
      .getByRole('alert')
      .getByText(/^Disconnected: /)
      .waitFor();
    await carol.waitForTimeout(2500);
    expect(carolSockets).toHaveLength(1);
    expect(await carol.getByRole('form', { name: 'Before you continue' }).count()).toBe(0);
    expect(await carol.getByRole('button', { name: 'Sign out' }).count()).toBe(1);
    await carol.close();
    expect(errors).toEqual([]);
  });
});
