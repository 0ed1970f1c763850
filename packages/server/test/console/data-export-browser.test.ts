import { readFileSync } from 'node:fs';
import type { DataExportBody } from '@parley/protocol';
import { TOTP, URI } from 'otpauth';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../support/browser-sdk.ts';
import { buildConsole } from '../support/console-build.ts';
import {
  bearer,
  json,
  newMember,
  newTenantOwner,
  ownerPassword,
  signIn,
  type SignedIn,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { runDueJobs } from '../compliance/gdpr/export-download.ts';
import { buildWorld } from '../compliance/gdpr/export-world.ts';
import { seriousAxeViolations } from './axe.ts';

/**
 * "Download my data" in Debian's Chromium against a real server: on the console's "My account" page and in
 * the chat app, a user asks for an export of their data, sees it being prepared (a progress bar, the status
 * polled), then downloads the archive — a gzip of the size the server reports — with the bearer token in a
 * header, never in an address. A refusal (too many exports) is shown in words. Background jobs run only when
 * the test lets them (the runner's tick is at most every 10 s), so the "being prepared" state can be seen.
 */

const chromiumSkip = chromiumMissing('data export');
const memberPassword = 'Saffron kettle meadow 58 lantern';

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

/** Every address the page asked for, and every token the server handed it (to show none is in an address). */
function watchAddresses(page: Page) {
  const urls: string[] = [];
  const tokens: string[] = [];
  page.on('request', (request) => urls.push(request.url()));
  page.on('response', (response) => {
    if (!response.url().endsWith('/oauth/token') || response.status() !== 200) return;
    void response.json().then((body: { access_token: string; refresh_token: string }) => {
      tokens.push(body.access_token, body.refresh_token);
    });
  });
  return { urls, tokens };
}

/** Signs in to the console as `owner` with a code of the authenticator's next period (none is used twice). */
async function signInOwner(page: Page, server: TestServer, owner: SignedIn, totp: TOTP): Promise<void> {
  await page.goto(`${server.url}/console/`);
  await page.getByLabel('Tenant id').fill(owner.tenantId);
  await page.getByLabel('E-mail').fill(owner.email);
  await page.getByLabel('Password').fill(ownerPassword);
  await page.getByLabel('Password').press('Enter');
  const code = page.getByLabel('Code from your authenticator app');
  await code.waitFor();
  await code.fill(totp.generate({ timestamp: Date.now() + 30_000 }));
  await code.press('Enter');
}

/** Clicks the download button and answers the saved file's name and bytes. */
async function downloadArchive(page: Page): Promise<{ name: string; bytes: Buffer }> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download archive' }).click(),
  ]);
  return { name: download.suggestedFilename(), bytes: readFileSync(await download.path()) };
}

describe.skipIf(chromiumSkip !== undefined)('download my data in Chromium', () => {
  let server: TestServer;
  let owner: SignedIn;
  let totp: TOTP;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    buildConsole();
    server = await startTestServer({ env: { PARLEY_JOB_POLL_INTERVAL_MS: '10000' } });
    owner = await newTenantOwner(server, 'Export Clinic', 'profile admin');
    totp = await enrolTotp(server, owner);
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium.close();
    await server.close();
  });

  it('on "My account": requests an export, shows its progress, downloads the gzip archive; too many is refused in words', async () => {
    const page = await chromium.browser.newPage();
    const seen = watchAddresses(page);
    await page.setViewportSize({ width: 1100, height: 900 });
    await signInOwner(page, server, owner, totp);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'My account' }).click();
    await page.getByRole('heading', { name: 'My account', level: 1 }).waitFor();

    const section = page.getByRole('region', { name: 'Download my data' });
    await section.getByText('No export requested yet.').waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);

    const polls: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'GET' && /\/v1\/me\/exports\/[\w-]+$/.test(request.url()))
        polls.push(request.url());
    });
    await section.getByRole('button', { name: 'Request my data' }).click();
    // Being prepared: a labelled progress bar, the status in words, no download yet.
    const progress = section.getByRole('progressbar', { name: 'Preparing your data export' });
    await progress.waitFor();
    await section.getByText('Waiting to start…').waitFor();
    expect(await section.getByRole('button', { name: 'Download archive' }).count()).toBe(0);
    expect(await section.getByRole('button', { name: /Request/ }).count()).toBe(0);
    expect(await seriousAxeViolations(page)).toEqual([]);
    // The page asks again while it waits.
    await expect.poll(() => polls.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);

    await runDueJobs(server);
    // The next poll sees it ready: the bar goes, the download and the expiry come.
    await section.getByRole('button', { name: 'Download archive' }).waitFor({ timeout: 10_000 });
    expect(await progress.count()).toBe(0);
    await section.getByText(/Available until/).waitFor();
    const listed = await server.request('/v1/me/exports', bearer(owner.accessToken));
    const [latest] = listed.json<{ exports: DataExportBody[] }>().exports;
    expect(latest?.status).toBe('ready');
    const expiry = await section.getByText(/Available until/).textContent();
    expect(expiry).toContain(String(new Date(latest?.expiresAt ?? '').getUTCFullYear()));

    const archive = await downloadArchive(page);
    expect(archive.name).toMatch(/\.tar\.gz$/);
    expect(archive.bytes.length).toBeGreaterThan(0);
    expect(archive.bytes.length).toBe(latest?.archiveBytes);
    expect([...archive.bytes.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    await section.getByText('Download started.').waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);

    // Three a day per user: the second and third are built, the fourth is refused with a sentence.
    for (let round = 0; round < 2; round += 1) {
      await section.getByRole('button', { name: 'Request a new export' }).click();
      await progress.waitFor();
      await runDueJobs(server);
      await section.getByRole('button', { name: 'Download archive' }).waitFor({ timeout: 10_000 });
    }
    await section.getByRole('button', { name: 'Request a new export' }).click();
    await section
      .getByRole('alert')
      .getByText(/^Too many exports were requested recently\. Try again later\./)
      .waitFor();
    // The ready archive is still offered.
    expect(await section.getByRole('button', { name: 'Download archive' }).count()).toBe(1);
    expect(await seriousAxeViolations(page)).toEqual([]);

    // The token travelled in headers only: no address the page asked for holds it.
    expect(seen.tokens.length).toBeGreaterThanOrEqual(2);
    for (const token of seen.tokens) for (const url of seen.urls) expect(url).not.toContain(token);
    await page.close();
  });

  it('in the chat app: "My data" requests an export and downloads it once it is ready', async () => {
    const email = `member-${owner.tenantId.slice(-6)}@export.example`;
    const created = await server.request(
      '/v1/users',
      json({ displayName: 'Mira', email, password: memberPassword, roles: ['member'] }, owner.accessToken),
    );
    expect(created.status).toBe(201);
    // The required consent is accepted once over the API (chat-app-consent-browser.test.ts tests the step).
    await signIn(server, owner.tenantId, email, memberPassword, 'profile chat');
    const page = await chromium.browser.newPage();
    const seen = watchAddresses(page);
    await page.setViewportSize({ width: 1100, height: 760 });
    await page.goto(`${server.url}/app/`);
    await page.getByLabel('Tenant id').fill(owner.tenantId);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(memberPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Connected', { exact: true }).waitFor();

    await page.getByRole('button', { name: 'My data' }).click();
    const section = page.getByRole('region', { name: 'Download my data' });
    await section.getByRole('button', { name: 'Request my data' }).click();
    await section.getByRole('progressbar', { name: 'Preparing your data export' }).waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await runDueJobs(server);
    await section.getByRole('button', { name: 'Download archive' }).waitFor({ timeout: 10_000 });
    const archive = await downloadArchive(page);
    expect(archive.bytes.length).toBeGreaterThan(0);
    expect([...archive.bytes.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    for (const token of seen.tokens) for (const url of seen.urls) expect(url).not.toContain(token);
    await page.close();
  });
});

/**
 * "Export data" on the users page: the owner (who holds privacy.export) exports another user's data, follows
 * the build on a determinate progress bar — sections done of all of them, stopped part-way by a damaged upload
 * so the middle can be seen — and downloads the gzip archive with the bearer token in a header. An
 * administrator, whose role lacks privacy.export, is not offered the action. Its own server, so the owner's
 * authenticator codes and the server's clock are this test's alone.
 */
describe.skipIf(chromiumSkip !== undefined)('an administrator exports a user’s data in Chromium', () => {
  let server: TestServer;
  let owner: SignedIn;
  let totp: TOTP;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  /** The server's clock: real time plus what the test moved it by. */
  const clock = { offset: 0, now: () => Date.now() + clock.offset };

  beforeAll(async () => {
    buildConsole();
    server = await startTestServer({ clock, env: { PARLEY_JOB_POLL_INTERVAL_MS: '10000' } });
    owner = await newTenantOwner(server, 'Export Desk', 'profile admin');
    totp = await enrolTotp(server, owner);
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium.close();
    await server.close();
  });

  it('the owner exports another user’s data from the users page: a determinate progress bar, then the gzip archive; an admin is not offered it', async () => {
    const subject = await newMember(server, owner, 'tess-export@export.example');
    const name = 'tess-export';
    const world = await buildWorld(server, owner.tenantId, subject.userId, {
      others: 1,
      dialogs: [{ type: 'private', members: [0, 1], hideHistory: false }],
      actions: [
        { kind: 'send', dialog: 0, sender: 0, attach: false },
        { kind: 'upload', user: 0 },
      ],
    });
    const [upload] = world.uploads;
    if (!upload) throw new Error('the world has the subject’s upload');
    const chunk = () =>
      server.app.storage.withTenant(owner.tenantId, (tx) =>
        tx
          .selectFrom('attachment_chunks')
          .select('data')
          .where('tenant_id', '=', owner.tenantId)
          .where('attachment_id', '=', upload.id)
          .where('idx', '=', 0)
          .executeTakeFirstOrThrow(),
      );
    const setChunk = (data: Buffer) =>
      server.app.storage.withTenant(owner.tenantId, (tx) =>
        tx
          .updateTable('attachment_chunks')
          .set({ data })
          .where('tenant_id', '=', owner.tenantId)
          .where('attachment_id', '=', upload.id)
          .where('idx', '=', 0)
          .execute(),
      );
    // The upload is damaged: the first try stops at the uploads section, with everything before it written.
    const original = (await chunk()).data;
    const damaged = Buffer.from(original);
    damaged[0] = (damaged[0] ?? 0) ^ 0xff;
    await setChunk(damaged);

    const page = await chromium.browser.newPage();
    const seen = watchAddresses(page);
    await page.setViewportSize({ width: 1100, height: 900 });
    await signInOwner(page, server, owner, totp);
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await page.getByRole('button', { name: `Export data of ${name}` }).click();
    const section = page.getByRole('region', { name: `Data of ${name}` });
    await section.getByText(`You have not exported ${name}’s data yet.`).waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);

    await section.getByRole('button', { name: `Export ${name}’s data` }).click();
    const progress = section.getByRole('progressbar', { name: `Preparing the data export of ${name}` });
    await progress.waitFor();
    await section.getByText('Waiting to start…').waitFor();
    // Determinate from the start: none of the sections done yet.
    expect(await progress.getAttribute('value')).toBe('0');
    const sectionsTotal = Number(await progress.getAttribute('max'));
    expect(sectionsTotal).toBeGreaterThan(1);

    await runDueJobs(server);
    // Hold the retry: with the clock set back, the runner's own ticks find it not yet due.
    clock.offset = -120_000;
    try {
      const midway = section.getByText(
        /^Preparing: \d+ of \d+ sections \(\d+ %\), now attachments; \d+ records? written so far…$/,
      );
      await midway.waitFor({ timeout: 10_000 });
      const exported = (
        await server.request(`/v1/users/${subject.userId}/exports`, bearer(owner.accessToken))
      ).json<{ exports: DataExportBody[] }>().exports[0];
      const done = exported?.progress?.sectionsDone ?? -1;
      expect(exported?.status).toBe('running');
      expect(done).toBeGreaterThan(0);
      expect(done).toBeLessThan(sectionsTotal);
      expect(await progress.getAttribute('value')).toBe(String(done));
      expect(await midway.textContent()).toContain(
        `${done} of ${sectionsTotal} sections (${Math.round((100 * done) / sectionsTotal)} %)`,
      );
      expect(await seriousAxeViolations(page)).toEqual([]);

      await setChunk(original);
      clock.offset = 11_000; // past the retry's back-off
      await runDueJobs(server);
    } finally {
      clock.offset = 0;
    }
    await section.getByRole('button', { name: 'Download archive' }).waitFor({ timeout: 10_000 });
    expect(await progress.count()).toBe(0);
    const [ready] = (
      await server.request(`/v1/users/${subject.userId}/exports`, bearer(owner.accessToken))
    ).json<{ exports: DataExportBody[] }>().exports;
    expect(ready).toMatchObject({ status: 'ready', source: 'admin', requestedBy: owner.userId });
    const archive = await downloadArchive(page);
    expect(archive.name).toMatch(/\.tar\.gz$/);
    expect(archive.bytes.length).toBe(ready?.archiveBytes);
    expect([...archive.bytes.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    await section.getByText('Download started.').waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    // The archive came from the administrator's address for it, with the token in a header only.
    expect(seen.urls.some((url) => url.endsWith(`/v1/exports/${ready?.id ?? ''}/archive`))).toBe(true);
    expect(seen.tokens.length).toBeGreaterThanOrEqual(1);
    for (const token of seen.tokens) for (const url of seen.urls) expect(url).not.toContain(token);
    await page.close();

    // An administrator manages users but may not export them (no privacy.export): no such button.
    const adminEmail = 'ada-admin@export.example';
    const adminPassword = 'Copper lantern orchard 73 ferry';
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Ada Admin', email: adminEmail, password: adminPassword, roles: ['admin'] },
        owner.accessToken,
      ),
    );
    expect(created.status, created.text).toBe(201);
    // The required consents are accepted over the API, so the console opens on the users page.
    await signIn(server, owner.tenantId, adminEmail, adminPassword, 'profile admin');
    const adminPage = await chromium.browser.newPage();
    await adminPage.goto(`${server.url}/console/`);
    await adminPage.getByLabel('Tenant id').fill(owner.tenantId);
    await adminPage.getByLabel('E-mail').fill(adminEmail);
    await adminPage.getByLabel('Password').fill(adminPassword);
    await adminPage.getByLabel('Password').press('Enter');
    await adminPage.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    // The row is there with the actions the admin holds, and without the export.
    await adminPage.getByRole('button', { name: `Deactivate ${name}` }).waitFor();
    expect(await adminPage.getByRole('button', { name: /^Export data of/ }).count()).toBe(0);
    expect(await adminPage.getByRole('button', { name: 'Export data' }).count()).toBe(0);
    // The server agrees: the same request from the admin is refused.
    const adminToken = (await signIn(server, owner.tenantId, adminEmail, adminPassword, 'profile admin'))
      .accessToken;
    const refused = await server.request(`/v1/users/${subject.userId}/exports`, bearer(adminToken, 'POST'));
    expect(refused.status).toBe(403);
    await adminPage.close();
  });
});
