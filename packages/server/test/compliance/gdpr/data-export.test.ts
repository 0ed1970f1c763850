import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { type DataExportBody, createDialogBody, sendMessageBody } from '@parley/protocol';
import { MemoryTokenStore, ParleyApiError, ParleyClient } from '@parley/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCounter } from '../../../src/counters/memory-counter.ts';
import { createExportService } from '../../../src/compliance/gdpr/export-service.ts';
import { createJobQueue } from '../../../src/jobs/job-queue.ts';
import { exportSettingsIn } from '../../../src/tenancy/tenant-settings-service.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import {
  bearer,
  json,
  memberPassword,
  newMember,
  newTenantOwner,
  type SignedIn,
  signIn,
  tokenRequest,
} from '../../support/identity-fixtures.ts';
import { trustingFetch } from '../../support/sdk-clients.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';
import { unpackArchive } from './export-archive-fixtures.ts';
import { readArchiveFiles } from './export-expectations.ts';
import { downloadBytes, exportAndUnpack, runDueJobs } from './export-download.ts';
import { auditEntries, storedRequestsOf } from './gdpr-fixtures.ts';

const unique = () => randomBytes(4).toString('hex');

describeEachDialect('data exports', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  let officer: string;
  let admin: string;

  /** A user of `owner`'s tenant with `role`, signed in with the admin scope. */
  async function staff(role: string): Promise<string> {
    const email = `${role}-${unique()}@exports.example`;
    const created = await server.request(
      '/v1/users',
      json({ displayName: role, email, password: memberPassword, roles: [role] }, owner.accessToken),
    );
    expect(created.status, created.text).toBe(201);
    return (await signIn(server, owner.tenantId, email, memberPassword, 'profile admin')).accessToken;
  }

  const requestOwn = (token: string) => server.request('/v1/me/exports', bearer(token, 'POST'));

  beforeAll(async () => {
    server = await startTestServer({ dialect, env: { PARLEY_JOB_POLL_INTERVAL_MS: '10000' } });
    owner = await newTenantOwner(server, 'Exports Inc');
    alice = await newMember(server, owner, 'alice@exports.example');
    bob = await newMember(server, owner, 'bob@exports.example');
    officer = await staff('compliance_officer');
    admin = await staff('admin');
    const { services } = server.app;
    const dialog = await services.dialogs.create(
      owner.tenantId,
      alice.userId,
      createDialogBody.parse({ type: 'private', memberIds: [bob.userId] }),
    );
    for (const [sender, body] of [
      [alice.userId, 'Hello Bob'],
      [bob.userId, 'Hi Alice'],
    ] as const)
      await services.messages.send(
        owner.tenantId,
        sender,
        dialog.id,
        sendMessageBody.parse({ clientId: unique(), body }),
      );
  });

  afterAll(async () => {
    await server.close();
  });

  it('a user asks for their export, waits while it is built, downloads it once ready; it is audited and recorded as a completed request', async () => {
    const requested = await requestOwn(alice.token);
    expect(requested.status, requested.text).toBe(202);
    const queued = requested.json<DataExportBody>();
    expect(queued).toMatchObject({
      subjectId: alice.userId,
      requestedBy: alice.userId,
      source: 'subject',
      status: 'queued',
      othersMessages: 'redacted',
      archiveBytes: null,
    });
    // One at a time, and nothing to download before it is built.
    const again = await requestOwn(alice.token);
    expect(again.status).toBe(409);
    expect(again.json<{ error: { code: string } }>().error.code).toBe('export_in_progress');
    const early = await server.request(`/v1/me/exports/${queued.id}/archive`, bearer(alice.token));
    expect(early.status).toBe(409);
    expect(early.json<{ error: { code: string } }>().error.code).toBe('export_not_ready');

    await runDueJobs(server);
    const ready = (
      await server.request(`/v1/me/exports/${queued.id}`, bearer(alice.token))
    ).json<DataExportBody>();
    expect(ready).toMatchObject({ status: 'ready', downloads: 0 });
    expect(Date.parse(ready.expiresAt ?? '') - Date.parse(ready.completedAt ?? '')).toBe(7 * 86_400_000);
    const listed = await server.request('/v1/me/exports', bearer(alice.token));
    expect(listed.json<{ exports: DataExportBody[] }>().exports.map((entry) => entry.id)).toContain(
      queued.id,
    );

    const download = await downloadBytes(server, `/v1/me/exports/${queued.id}/archive`, alice.token);
    expect(download.status).toBe(200);
    expect(download.headers['content-disposition']).toBe(
      `attachment; filename="parley-export-${queued.id}.tar.gz"`,
    );
    const { records, documents } = readArchiveFiles(await unpackArchive(download.body), queued.id);
    expect(documents.get('profile.json')).toMatchObject({ id: alice.userId, email: 'alice@exports.example' });
    expect(records['messages-sent']?.map((message) => message.body)).toEqual(['Hello Bob']);
    expect(records['messages-received']).toMatchObject([
      { body: 'Hi Alice', sender: expect.stringMatching(/^anon_/) },
    ]);

    const audited = await auditEntries(server, owner.tenantId, 'privacy.export_');
    expect(
      audited
        .filter((entry) => entry.details.includes(queued.id) || entry.target_id === queued.id)
        .map((entry) => entry.action),
    ).toEqual(['privacy.export_requested', 'privacy.export_completed', 'privacy.export_downloaded']);
    const [request] = await storedRequestsOf(server, owner.tenantId, alice.userId);
    expect(request).toMatchObject({
      id: ready.requestId,
      kind: 'export',
      source: 'subject',
      status: 'completed',
    });
    const after = (
      await server.request(`/v1/me/exports/${queued.id}`, bearer(alice.token))
    ).json<DataExportBody>();
    expect(after.downloads).toBe(1);
  });

  it('stores the archive encrypted: no stored chunk is gzip or unpacks, and none holds the text', async () => {
    const [ready] = (await server.request('/v1/me/exports', bearer(alice.token))).json<{
      exports: DataExportBody[];
    }>().exports;
    if (!ready) throw new Error('the first test made an export');
    const stored = await server.app.storage.withTenant(owner.tenantId, async (tx) => ({
      chunks: await tx
        .selectFrom('data_export_chunks')
        .select(['part', 'idx', 'data'])
        .where('tenant_id', '=', owner.tenantId)
        .where('export_id', '=', ready.id)
        .orderBy('part')
        .orderBy('idx')
        .execute(),
      key: await tx
        .selectFrom('data_exports')
        .select('archive_key')
        .where('id', '=', ready.id)
        .executeTakeFirstOrThrow(),
    }));
    expect(stored.chunks.length).toBeGreaterThan(0);
    const bytes = stored.chunks.map((chunk) => Buffer.from(chunk.data));
    // What the download sends is a .tar.gz (gzip magic 1f 8b); what is stored must not be.
    for (const chunk of bytes) expect(chunk.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(false);
    expect(() => gunzipSync(Buffer.concat(bytes))).toThrow();
    for (const text of ['Hello Bob', 'alice@exports.example', alice.userId])
      expect(Buffer.concat(bytes).includes(text)).toBe(false);
    // The archive's key is kept sealed (a field-cipher envelope), not as raw key bytes.
    expect(stored.key.archive_key).toMatch(/\./);
    expect(Buffer.from(stored.key.archive_key ?? '', 'base64').length).not.toBe(32);
    const download = await downloadBytes(server, `/v1/me/exports/${ready.id}/archive`, alice.token);
    expect(gunzipSync(download.body).includes('Hello Bob')).toBe(true);
  });

  it('only whoever asked can download: another user, a compliance officer and another tenant get 404, and an admin without privacy.export is refused', async () => {
    const [ready] = (await server.request('/v1/me/exports', bearer(alice.token))).json<{
      exports: DataExportBody[];
    }>().exports;
    if (!ready) throw new Error('the first test made an export');
    const notFound = async (path: string, token: string) => {
      const response = await server.request(path, bearer(token));
      expect(response.status, `${path}: ${response.text}`).toBe(404);
    };
    // Bob, of the same tenant, can neither see nor take Alice's export.
    await notFound(`/v1/me/exports/${ready.id}`, bob.token);
    await notFound(`/v1/me/exports/${ready.id}/archive`, bob.token);
    expect((await server.request(`/v1/me/exports/${ready.id}`, bearer(bob.token, 'DELETE'))).status).toBe(
      404,
    );
    // The compliance officer sees that it exists (a request to answer) but cannot read what is in it.
    const seen = await server.request(`/v1/exports/${ready.id}`, bearer(officer));
    expect(seen.status, seen.text).toBe(200);
    await notFound(`/v1/exports/${ready.id}/archive`, officer);
    // Another tenant's owner (who holds privacy.export) meets an id that does not exist.
    const stranger = await newTenantOwner(server, 'Other Exports');
    await notFound(`/v1/exports/${ready.id}`, stranger.accessToken);
    await notFound(`/v1/exports/${ready.id}/archive`, stranger.accessToken);
    expect(
      (await server.request(`/v1/exports/${ready.id}`, bearer(stranger.accessToken, 'DELETE'))).status,
    ).toBe(404);
    const foreignUser = await server.request(
      `/v1/users/${alice.userId}/exports`,
      bearer(stranger.accessToken, 'POST'),
    );
    expect(foreignUser.status).toBe(404);
    // An admin runs the tenant but does not read people's whole correspondence.
    const refused = await server.request(`/v1/users/${alice.userId}/exports`, bearer(admin, 'POST'));
    expect(refused.status).toBe(403);
    // Alice's download still works, and nothing above changed her export.
    expect((await downloadBytes(server, `/v1/me/exports/${ready.id}/archive`, alice.token)).status).toBe(200);
  });

  it('a compliance officer exports a user on their behalf; only the officer downloads it, and the user does not list it as theirs', async () => {
    const { exported, files } = await exportAndUnpack(
      server,
      officer,
      `/v1/users/${bob.userId}/exports`,
      (id) => `/v1/exports/${id}`,
    );
    expect(exported).toMatchObject({ subjectId: bob.userId, source: 'admin' });
    expect(readArchiveFiles(files, exported.id).manifest).toMatchObject({
      subjectId: bob.userId,
      source: 'admin',
    });
    const own = (await server.request('/v1/me/exports', bearer(bob.token))).json<{
      exports: DataExportBody[];
    }>();
    expect(own.exports.map((entry) => entry.id)).not.toContain(exported.id);
    expect((await server.request(`/v1/me/exports/${exported.id}/archive`, bearer(bob.token))).status).toBe(
      404,
    );
    const listed = await server.request(`/v1/users/${bob.userId}/exports`, bearer(officer));
    expect(listed.json<{ exports: DataExportBody[] }>().exports.map((entry) => entry.id)).toContain(
      exported.id,
    );
  });

  it('a subject gets at most three exports a day (429 export_rate_limited with Retry-After)', async () => {
    const carol = await newMember(server, owner, `carol-${unique()}@exports.example`);
    for (let n = 0; n < 3; n += 1) {
      expect((await requestOwn(carol.token)).status).toBe(202);
      await runDueJobs(server);
    }
    const refused = await requestOwn(carol.token);
    expect(refused.status).toBe(429);
    expect(refused.json<{ error: { code: string } }>().error.code).toBe('export_rate_limited');
    expect(refused.headers['retry-after']).toBe('86400');
    // The limit is the subject's, whoever asks: the officer is refused for Carol too.
    expect((await server.request(`/v1/users/${carol.userId}/exports`, bearer(officer, 'POST'))).status).toBe(
      429,
    );
  });

  it('a tenant gets at most its hourly number of exports, and a refusal takes back nothing it counted', async () => {
    const { app } = server;
    const exports = createExportService({
      storage: app.storage,
      fieldCipher: app.security.fieldCipher,
      users: app.services.users,
      audit: app.services.audit,
      clock: { now: () => Date.now() },
      counter: new MemoryCounter({ now: () => Date.now() }),
      queue: createJobQueue({ clock: { now: () => Date.now() } }),
      job: app.services.exportJob,
      requests: undefined,
      settings: exportSettingsIn,
      limits: { perSubjectPerDay: 10, perTenantPerHour: 2 },
    });
    const people = await Promise.all(
      [1, 2, 3].map((n) => app.services.users.createUser(owner.tenantId, { displayName: `p${n}` })),
    );
    const actor = { userId: owner.userId, sessionId: null, context: {} };
    await exports.request(owner.tenantId, people[0]?.id ?? '', actor, 'admin');
    await exports.request(owner.tenantId, people[1]?.id ?? '', actor, 'admin');
    await expect(exports.request(owner.tenantId, people[2]?.id ?? '', actor, 'admin')).rejects.toMatchObject({
      code: 'export_rate_limited',
    });
    await runDueJobs(server);
  });

  it('the SDK asks for an export, follows it, downloads the archive and destroys it', async () => {
    const email = `sdk-${unique()}@exports.example`;
    await newMember(server, owner, email, 'profile');
    const client = new ParleyClient({
      baseUrl: server.url,
      fetch: trustingFetch(server.ca).fetch,
      tokenStore: new MemoryTokenStore(),
    });
    await client.auth.signIn({
      tenantId: owner.tenantId,
      username: email,
      password: memberPassword,
      scope: 'profile',
    });
    const asked = await client.account.exports.request();
    expect(asked.status).toBe('queued');
    await expect(client.account.exports.download(asked.id)).rejects.toMatchObject({
      code: 'export_not_ready',
    });
    await runDueJobs(server);
    expect((await client.account.exports.get(asked.id)).status).toBe('ready');
    expect((await client.account.exports.list()).map((entry) => entry.id)).toEqual([asked.id]);
    const archive = Buffer.from(await (await client.account.exports.download(asked.id)).arrayBuffer());
    expect(readArchiveFiles(await unpackArchive(archive), asked.id).manifest.subjectId).toBe(asked.subjectId);
    await client.account.exports.remove(asked.id);
    await expect(client.account.exports.download(asked.id)).rejects.toBeInstanceOf(ParleyApiError);
  });

  it('an erased user is not exported (409 subject_erased)', async () => {
    const erased = await server.app.services.users.createUser(owner.tenantId, { displayName: 'Gone' });
    await server.app.services.users.eraseUser(owner.tenantId, erased.id);
    const refused = await server.request(`/v1/users/${erased.id}/exports`, bearer(officer, 'POST'));
    expect(refused.status).toBe(409);
    expect(refused.json<{ error: { code: string } }>().error.code).toBe('subject_erased');
  });

  it('the tenant’s settings choose the policy for others’ messages and how long archives are kept', async () => {
    const changed = await server.request(
      '/v1/tenant/settings',
      json({ privacy: { exportOthersMessages: 'none', exportRetentionDays: 2 } }, owner.accessToken, 'PATCH'),
    );
    expect(changed.status, changed.text).toBe(200);
    expect(changed.json<{ privacy: unknown }>().privacy).toEqual({
      exportOthersMessages: 'none',
      exportRetentionDays: 2,
    });
    const invalid = await server.request(
      '/v1/tenant/settings',
      json({ privacy: { exportRetentionDays: 31 } }, owner.accessToken, 'PATCH'),
    );
    expect(invalid.status).toBe(400);
    const dave = await newMember(server, owner, `dave-${unique()}@exports.example`);
    const { exported, files } = await exportAndUnpack(
      server,
      dave.token,
      '/v1/me/exports',
      (id) => `/v1/me/exports/${id}`,
    );
    expect(exported.othersMessages).toBe('none');
    expect(Date.parse(exported.expiresAt ?? '') - Date.parse(exported.completedAt ?? '')).toBe(
      2 * 86_400_000,
    );
    expect(readArchiveFiles(files, exported.id).manifest.othersMessages).toBe('none');
    await server.request(
      '/v1/tenant/settings',
      json(
        { privacy: { exportOthersMessages: 'redacted', exportRetentionDays: 7 } },
        owner.accessToken,
        'PATCH',
      ),
    );
  });
});

describe('export routes are for people', () => {
  it('an API client (client_credentials) cannot ask for an export', async () => {
    const server = await startTestServer();
    try {
      const owner = await newTenantOwner(server, 'Clients Co');
      const created = await server.request(
        '/v1/clients',
        json({ name: 'backend', scopes: ['admin', 'profile'] }, owner.accessToken),
      );
      const { clientId, clientSecret } = created.json<{ clientId: string; clientSecret: string }>();
      const token = await tokenRequest(server, {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        scope: 'admin profile',
      });
      const access = token.json<{ access_token: string }>().access_token;
      expect((await server.request('/v1/me/exports', bearer(access, 'POST'))).status).toBe(403);
      expect((await server.request(`/v1/users/${owner.userId}/exports`, bearer(access, 'POST'))).status).toBe(
        403,
      );
    } finally {
      await server.close();
    }
  });
});
