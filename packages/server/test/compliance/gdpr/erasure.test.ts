import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryTokenStore, ParleyApiError, ParleyClient } from '@parley/client';
import { createDialogBody, type ErasureBody, sendMessageBody } from '@parley/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyCertificate } from '../../../src/compliance/gdpr/erasure-certificate.ts';
import { certificateBytes } from '../../../src/compliance/gdpr/erasure-certificate.ts';
import { erasureCoverage } from '../../../src/compliance/gdpr/erasure-coverage.ts';
import { declaredSchema } from '../../../src/compliance/gdpr/data-inventory.ts';
import type { ErasureProgress } from '../../../src/compliance/gdpr/erasure-steps.ts';
import { sql } from 'kysely';
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
import { openSocket } from '../../support/realtime-socket.ts';
import { trustingFetch } from '../../support/sdk-clients.ts';
import { startTestServer, type TestResponse, type TestServer } from '../../support/start-server.ts';
import {
  type CanaryUser,
  copyDatabase,
  dropSchema,
  erasureReaching,
  foundIn,
  newCanaryUser,
  postgresSchemaText,
  restoreCopy,
  sqliteFilesText,
} from './erasure-fixtures.ts';
import { auditEntries, storedRequest } from './gdpr-fixtures.ts';

/**
 * Erasure (GDPR Art. 17) that reaches every copy. A user's profile, messages, file name and file content
 * carry canary strings; after the erasure none of them is in the database files, the WAL, the search tables
 * or the server's log, and none comes back through the API — also from a copy of the database taken before
 * the erasure, restored and started. Attacks tried: erasing without the password, erasing twice, cancelling
 * after the grace period, another tenant's administrator, and sending messages while the erasure runs.
 */
const FAST_JOBS = { PARLEY_JOB_POLL_INTERVAL_MS: '100' };

describeEachDialect('erasure', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  const codeOf = (response: TestResponse) => response.json<{ error: { code: string } }>().error.code;
  const eraseAsAdmin = (userId: string, body: unknown = { graceDays: 0 }, token = owner.accessToken) =>
    server.request(`/v1/users/${userId}/erasure`, json(body, token));
  const history = (dialogId: string, token = owner.accessToken) =>
    server.request(`/v1/dialogs/${dialogId}/messages`, bearer(token));

  beforeAll(async () => {
    server = await startTestServer({ dialect, env: FAST_JOBS });
    owner = await newTenantOwner(server, 'Erasure Clinic');
  });

  afterAll(async () => {
    await server.close();
  });

  it('a user’s own request needs their password, waits out the grace period, and cancelling it changes nothing', async () => {
    const victim = await newCanaryUser(server, owner);
    const before = await snapshot(victim);

    const wrong = await server.request(
      '/v1/me/erasure',
      json({ password: 'not my password at all' }, victim.token),
    );
    expect(wrong.status).toBe(401);
    expect(codeOf(wrong)).toBe('invalid_credentials');

    const asked = await server.request('/v1/me/erasure', json({ password: memberPassword }, victim.token));
    expect(asked.status, asked.text).toBe(202);
    const erasure = asked.json<ErasureBody>();
    expect(erasure).toMatchObject({ status: 'scheduled', source: 'subject', messagePolicy: 'erase' });
    const graceMs = Date.parse(erasure.eraseAfter) - Date.parse(erasure.requestedAt);
    expect(graceMs).toBe(14 * 86_400_000);
    expect((await storedRequest(server, owner.tenantId, erasure.requestId ?? '')).kind).toBe('erasure');

    const again = await server.request('/v1/me/erasure', json({ password: memberPassword }, victim.token));
    expect(again.status).toBe(409);
    expect(codeOf(again)).toBe('erasure_scheduled');
    // During the grace period the account works as before.
    expect((await server.request('/v1/me', bearer(victim.token))).status).toBe(200);

    // An administrator cannot withdraw the user's own request.
    const overruled = await server.request(
      `/v1/users/${victim.userId}/erasure`,
      bearer(owner.accessToken, 'DELETE'),
    );
    expect(overruled.status).toBe(403);
    const cancelled = await server.request('/v1/me/erasure', bearer(victim.token, 'DELETE'));
    expect(cancelled.status, cancelled.text).toBe(200);
    expect(cancelled.json<ErasureBody>().status).toBe('cancelled');
    const job = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .selectFrom('jobs')
        .select('state')
        .where('kind', '=', 'gdpr_erasure')
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow(),
    );
    expect(job.state).toBe('cancelled');
    expect((await storedRequest(server, owner.tenantId, erasure.requestId ?? '')).status).toBe('cancelled');
    expect(await snapshot(victim)).toEqual(before);
    const me = await server.request('/v1/me', bearer(victim.token));
    expect(me.json<{ displayName: string }>().displayName).toBe(`Dr ${victim.canaries.name}`);
  });

  it('cannot be cancelled once its grace period is over, and is not asked for twice', async () => {
    const member = await newMember(server, owner, `late-${Date.now()}@erasure.example`);
    // A grace period of a day, then the clock of the request is moved past it.
    const asked = await eraseAsAdmin(member.userId, { graceDays: 1 });
    expect(asked.status, asked.text).toBe(202);
    const twice = await eraseAsAdmin(member.userId, { graceDays: 1 });
    expect(codeOf(twice)).toBe('erasure_scheduled');
    // Nor can the user cancel what an administrator decided.
    const theirs = await server.request('/v1/me/erasure', bearer(member.token, 'DELETE'));
    expect(theirs.status).toBe(403);
    await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .updateTable('erasures')
        .set({ erase_after: Date.now() - 1 })
        .where('user_id', '=', member.userId)
        .execute(),
    );
    const late = await server.request(
      `/v1/users/${member.userId}/erasure`,
      bearer(owner.accessToken, 'DELETE'),
    );
    expect(late.status).toBe(409);
    expect(codeOf(late)).toBe('erasure_started');
  });

  it('erases profile, messages, files, search entries and sessions: no canary left in the database, the WAL or the log', async () => {
    const victim = await newCanaryUser(server, owner);
    const canaries = Object.values(victim.canaries);
    const sealed = await sealedCopies(victim);
    expect(sealed.length).toBeGreaterThan(3);
    expect((await search(victim.canaries.message)).length).toBe(2);
    // Mail to the account's address waits in the embedded outbox.
    const reset = await server.request(
      `/v1/tenants/${owner.tenantId}/password-reset`,
      json({ email: victim.canaries.email }),
    );
    expect(reset.status, reset.text).toBeLessThan(300);
    const outbox = () => server.request('/v1/admin/outbox', bearer(owner.accessToken));
    expect(foundIn((await outbox()).text, [victim.canaries.email])).toEqual([victim.canaries.email]);
    // Blocks both ways, and a presence the user chose: all to go.
    const block = (token: string, userId: string) =>
      server.request(`/v1/me/blocks/${userId}`, bearer(token, 'PUT'));
    expect((await block(victim.token, owner.userId)).status).toBeLessThan(300);
    expect((await block(owner.accessToken, victim.userId)).status).toBeLessThan(300);
    const socket = await openSocket(server, victim.token);

    const asked = await eraseAsAdmin(victim.userId);
    expect(asked.status, asked.text).toBe(202);
    const done = await erasureReaching(server, owner.accessToken, victim.userId);
    // The open realtime socket was closed as the session ended (4001).
    expect((await socket.closed)[0]).toBe(4001);

    // Through the API: no message text, no file, no search hit, no profile, no session.
    const page = await history(victim.dialogId);
    expect(page.status).toBe(200);
    expect(foundIn(page.text, canaries)).toEqual([]);
    const theirs = page
      .json<{ messages: { senderId: string; body: string | null; deleted: boolean }[] }>()
      .messages.filter((message) => message.senderId === victim.userId);
    expect(theirs.map((message) => message.body)).toEqual([null, null]);
    expect(page.text).toContain('The owner’s own words stay.');
    expect(await search(victim.canaries.message)).toEqual([]);
    expect(
      (await server.request(`/v1/attachments/${victim.attachmentId}`, bearer(owner.accessToken))).status,
    ).toBe(404);
    const users = await server.request('/v1/users', bearer(owner.accessToken));
    expect(foundIn(users.text, canaries)).toEqual([]);
    expect(foundIn((await outbox()).text, canaries)).toEqual([]);
    expect((await server.request('/v1/me', bearer(victim.token))).status).toBe(401);
    const signIn = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: victim.canaries.email,
      password: memberPassword,
    });
    expect(signIn.status).toBe(400);

    // At rest: neither the plaintext nor the ciphertexts the account's data had.
    const atRest =
      dialect === 'sqlite'
        ? sqliteFilesText(server.database.dataDir)
        : await postgresSchemaText(server.database.schema ?? '');
    expect(foundIn(atRest, canaries)).toEqual([]);
    expect(foundIn(atRest, sealed)).toEqual([]);
    expect(foundIn(server.logs.text(), canaries)).toEqual([]);

    expect(await leftovers(victim.userId)).toEqual([]);
    const { blocks, account } = await server.app.storage.withTenant(owner.tenantId, async (tx) => ({
      blocks: await tx
        .selectFrom('user_blocks')
        .select(['user_id', 'blocked_id'])
        .where((eb) => eb.or([eb('user_id', '=', victim.userId), eb('blocked_id', '=', victim.userId)]))
        .execute(),
      account: await tx
        .selectFrom('users')
        .select(['status', 'presence_visibility'])
        .where('id', '=', victim.userId)
        .executeTakeFirstOrThrow(),
    }));
    expect(blocks).toEqual([]);
    expect(account).toEqual({ status: 'erased', presence_visibility: 'nobody' });

    // Recorded: the request completed, audited, and a certificate with what was erased.
    expect(done.certificate?.certificate.erased).toMatchObject({
      userKeys: 1,
      messagesErased: 2,
      attachments: 1,
      reactions: 1,
      searchEntries: 2,
      blocks: 2,
    });
    expect((await storedRequest(server, owner.tenantId, done.requestId ?? '')).status).toBe('completed');
    const audited = await auditEntries(server, owner.tenantId, 'privacy.user_erased');
    expect(audited.map((entry) => entry.target_id)).toContain(victim.userId);
  });

  it('resumes from its last checkpoint after a crash, and a run after completion changes nothing', async () => {
    const victim = await newCanaryUser(server, owner);
    // Scheduled a day ahead, so the runner leaves it alone: this test runs the job's handler itself.
    const asked = await eraseAsAdmin(victim.userId, { graceDays: 1 });
    const { id: erasureId } = asked.json<ErasureBody>();
    const job = server.app.services.erasureJob;
    let committed: ErasureProgress | undefined;
    const run = (crashAfter: number) => {
      let checkpoints = 0;
      return job.run({
        job: {
          id: 'test',
          kind: job.kind,
          tenantId: owner.tenantId,
          attempt: 1,
          payload: { erasureId },
          progress: committed,
          requestedBy: null,
        },
        signal: new AbortController().signal,
        isCancelled: () => false,
        checkpoint: (progress) => {
          checkpoints += 1;
          // The crash rolls back the transaction this checkpoint was to commit with.
          if (checkpoints > crashAfter) return Promise.reject(new Error('node died'));
          committed = progress;
          return Promise.resolve();
        },
      });
    };
    await expect(run(3)).rejects.toThrow('node died');
    expect(committed?.step).toBe(3);
    // Crashed before its messages step committed: their text is still there.
    expect((await history(victim.dialogId)).text).toContain(victim.canaries.message);
    await run(Number.POSITIVE_INFINITY);
    const done = await erasureReaching(server, owner.accessToken, victim.userId);
    expect(done.certificate?.certificate.erased).toMatchObject({
      userKeys: 1,
      messagesErased: 2,
      sessions: 1,
    });
    expect(await leftovers(victim.userId)).toEqual([]);
    expect(foundIn((await history(victim.dialogId)).text, Object.values(victim.canaries))).toEqual([]);

    const before = await snapshot(victim);
    committed = undefined;
    await run(Number.POSITIVE_INFINITY);
    expect(await snapshot(victim)).toEqual(before);
    expect((await erasureReaching(server, owner.accessToken, victim.userId)).completedAt).toBe(
      done.completedAt,
    );
  });

  it('destroys the user’s export archive, and an export of the erased user is refused', async () => {
    const victim = await newCanaryUser(server, owner);
    const exportOf = () =>
      server.request(`/v1/users/${victim.userId}/exports`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.accessToken}` },
      });
    const asked = await exportOf();
    expect(asked.status, asked.text).toBe(202);
    const exportId = asked.json<{ id: string }>().id;
    const exported = async () =>
      (await server.request(`/v1/exports/${exportId}`, bearer(owner.accessToken))).json<{
        status: string;
        destroyedReason: string | null;
      }>();
    for (let tries = 0; (await exported()).status !== 'ready'; tries += 1) {
      if (tries > 600) throw new Error('the export did not finish');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    expect((await eraseAsAdmin(victim.userId)).status).toBe(202);
    const done = await erasureReaching(server, owner.accessToken, victim.userId);
    expect(done.certificate?.certificate.erased.exports).toBe(1);
    expect(await exported()).toMatchObject({ status: 'destroyed', destroyedReason: 'subject_erased' });
    const chunks = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx.selectFrom('data_export_chunks').select('idx').where('export_id', '=', exportId).execute(),
    );
    expect(chunks).toEqual([]);
    const refused = await exportOf();
    expect(refused.status).toBe(409);
    expect(codeOf(refused)).toBe('subject_erased');
  });

  it('under the erase policy, destroys other people’s archives that hold the user’s messages, and only those', async () => {
    const tenant = await newTenantOwner(server, 'Correspondents Clinic');
    const victim = await newCanaryUser(server, tenant);
    // A peer in a dialog of their own with the victim, and a bystander who shares no dialog with them.
    const peer = await newMember(server, tenant, `peer-${Date.now()}@erasure.example`);
    const bystander = await newMember(server, tenant, `bystander-${Date.now()}@erasure.example`);
    const { services } = server.app;
    const private1 = await services.dialogs.create(
      tenant.tenantId,
      victim.userId,
      createDialogBody.parse({ type: 'private', memberIds: [peer.userId] }),
    );
    await services.messages.send(
      tenant.tenantId,
      victim.userId,
      private1.id,
      sendMessageBody.parse({
        clientId: `to-peer-${victim.userId}`,
        body: `For you ${victim.canaries.message}`,
      }),
    );
    const exportOf = async (token: string) => {
      const asked = await server.request('/v1/me/exports', bearer(token, 'POST'));
      expect(asked.status, asked.text).toBe(202);
      const id = asked.json<{ id: string }>().id;
      await exportReaching(token, id, 'ready');
      return id;
    };
    const ownerExport = await exportOf(tenant.accessToken);
    const peerExport = await exportOf(peer.token);
    const bystanderExport = await exportOf(bystander.token);
    // The peer's archive as if its build were half-way when the erasure comes: running, its request open.
    const peerRequestId = await server.app.storage.withTenant(tenant.tenantId, async (tx) => {
      await tx
        .updateTable('data_exports')
        .set({ status: 'running', completed_at: null, expires_at: null })
        .where('id', '=', peerExport)
        .execute();
      const row = await tx
        .selectFrom('data_exports')
        .select('request_id')
        .where('id', '=', peerExport)
        .executeTakeFirstOrThrow();
      await tx
        .updateTable('data_subject_requests')
        .set({ status: 'in_progress', closed_at: null, outcome: null })
        .where('id', '=', row.request_id ?? '')
        .execute();
      return row.request_id ?? '';
    });

    expect((await eraseAsAdmin(victim.userId, { graceDays: 0 }, tenant.accessToken)).status).toBe(202);
    const done = await erasureReaching(server, tenant.accessToken, victim.userId);
    expect(done.certificate?.certificate.erased.exports).toBe(2);

    const seen = await server.request(`/v1/me/exports/${ownerExport}`, bearer(tenant.accessToken));
    expect(seen.json<{ status: string; destroyedReason: string | null }>()).toMatchObject({
      status: 'destroyed',
      destroyedReason: 'correspondent_erased',
    });
    const download = await server.request(
      `/v1/me/exports/${ownerExport}/archive`,
      bearer(tenant.accessToken),
    );
    expect(download.status).toBe(410);
    expect(codeOf(download)).toBe('export_destroyed');
    const peerSeen = await server.request(`/v1/me/exports/${peerExport}`, bearer(peer.token));
    expect(peerSeen.json<{ destroyedReason: string | null }>().destroyedReason).toBe('correspondent_erased');
    expect((await storedRequest(server, tenant.tenantId, peerRequestId)).status).toBe('cancelled');
    const peerRequests = await server.request('/v1/me/privacy-requests', bearer(peer.token));
    expect(peerRequests.text).toContain('Ask for a new export.');
    // Nothing of the destroyed archives is left; the bystander's archive, which holds nothing of the victim, is.
    const chunks = await server.app.storage.withTenant(tenant.tenantId, (tx) =>
      tx
        .selectFrom('data_export_chunks')
        .select(['export_id'])
        .where('export_id', 'in', [ownerExport, peerExport, bystanderExport])
        .execute(),
    );
    expect(new Set(chunks.map((chunk) => chunk.export_id))).toEqual(new Set([bystanderExport]));
    expect(
      (await server.request(`/v1/me/exports/${bystanderExport}`, bearer(bystander.token))).json<{
        status: string;
      }>().status,
    ).toBe('ready');
    const destroyed = (await auditEntries(server, tenant.tenantId, 'privacy.export_destroyed')).filter(
      (entry) => entry.details.includes('correspondent_erased'),
    );
    expect(destroyed.map((entry) => entry.target_id).sort()).toEqual([ownerExport, peerExport].sort());
  });

  it('a node’s erasure register learns from the database the erasures another node ran', async () => {
    const member = await newMember(server, owner, `elsewhere-${Date.now()}@erasure.example`);
    expect((await eraseAsAdmin(member.userId)).status).toBe(202);
    const { id } = await erasureReaching(server, owner.accessToken, member.userId);
    // This node's register as another node's would be: without the entries of this erasure.
    const file = path.join(server.database.dataDir, 'erasures.log');
    const lines = readFileSync(file, 'utf8').split('\n');
    writeFileSync(file, lines.filter((line) => !line.includes(member.userId)).join('\n'));
    const register = server.app.security.keyring.erasureRegister;
    expect(register.fullErasures().map((entry) => entry.userId)).not.toContain(member.userId);

    expect(await server.app.services.erasures.syncRegister()).toBeGreaterThanOrEqual(1);
    expect(register.fullErasures().find((entry) => entry.userId === member.userId)).toMatchObject({
      tenantId: owner.tenantId,
      erasureId: id,
      messagePolicy: 'erase',
    });
    expect(await server.app.services.erasures.syncRegister()).toBe(0);
  });

  it('sweeps a message that committed after its messages pass (a send already past its checks)', async () => {
    const victim = await newCanaryUser(server, owner);
    const asked = await eraseAsAdmin(victim.userId, { graceDays: 1 });
    const { id: erasureId } = asked.json<ErasureBody>();
    const job = server.app.services.erasureJob;
    let committed: ErasureProgress | undefined;
    let crashed = false;
    const run = () =>
      job.run({
        job: {
          id: 'test',
          kind: job.kind,
          tenantId: owner.tenantId,
          attempt: 1,
          payload: { erasureId },
          progress: committed,
          requestedBy: null,
        },
        signal: new AbortController().signal,
        isCancelled: () => false,
        checkpoint: (progress) => {
          // Stopped as it is about to leave the dialogs: the messages pass is done.
          if (!crashed && progress.step >= 6) {
            crashed = true;
            return Promise.reject(new Error('paused'));
          }
          committed = progress;
          return Promise.resolve();
        },
      });
    await expect(run()).rejects.toThrow('paused');
    expect(committed?.step).toBe(5);
    // The send that was in flight when the sessions ended commits now.
    const late = await server.app.services.messages.send(owner.tenantId, victim.userId, victim.dialogId, {
      clientId: `late-${victim.userId}`,
      body: `late ${victim.canaries.message}`,
      mentions: [],
      attachments: [],
    });
    expect(late.message.body).toContain(victim.canaries.message);
    await run();
    const row = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .selectFrom('messages')
        .select(['body', 'deleted_at'])
        .where('id', '=', late.message.id)
        .executeTakeFirstOrThrow(),
    );
    expect(row).toEqual({ body: null, deleted_at: expect.any(Number) });
    expect(foundIn((await history(victim.dialogId)).text, [victim.canaries.message])).toEqual([]);
  });

  it('signs a certificate that verifies with the audit signing key and fails once tampered with', async () => {
    const member = await newMember(server, owner, `certified-${Date.now()}@erasure.example`);
    expect((await eraseAsAdmin(member.userId)).status).toBe(202);
    const { certificate } = await erasureReaching(server, owner.accessToken, member.userId);
    if (!certificate) throw new Error('no certificate');
    expect(certificate.certificate.subjectId).toBe(member.userId);
    expect(verifyCertificate(certificate)).toBe(true);
    const signingKeys = server.app.security.signingKeys;
    const bytes = certificateBytes(certificate.certificate);
    expect(await signingKeys.verify(certificate.keyId, bytes, certificate.signature)).toBe(true);

    const tampered = {
      ...certificate,
      certificate: {
        ...certificate.certificate,
        erased: {
          ...certificate.certificate.erased,
          messagesErased: certificate.certificate.erased.messagesErased + 1,
        },
      },
    };
    expect(verifyCertificate(tampered)).toBe(false);
    const redated = {
      ...certificate,
      certificate: { ...certificate.certificate, completedAt: new Date(0).toISOString() },
    };
    expect(verifyCertificate(redated)).toBe(false);
  });

  it('a copy of the database taken before the erasure, restored and started, shows no canary before its first request', async () => {
    const victim = await newCanaryUser(server, owner);
    const canaries = Object.values(victim.canaries);
    // A mail to the address waits in the outbox of the copy: found again by the register's blind index.
    const reset = await server.request(
      `/v1/tenants/${owner.tenantId}/password-reset`,
      json({ email: victim.canaries.email }),
    );
    expect(reset.status).toBeLessThan(300);
    const copy = await copyDatabase(server);
    expect((await eraseAsAdmin(victim.userId)).status).toBe(202);
    await erasureReaching(server, owner.accessToken, victim.userId);

    const restored = restoreCopy(server, copy);
    const again = await startTestServer({ dialect, env: { ...FAST_JOBS, ...restored.env } });
    try {
      // The owner's token from before the copy is valid in it: the first requests the copy ever answers.
      const first = await again.request(`/v1/dialogs/${victim.dialogId}/messages`, bearer(owner.accessToken));
      expect(first.status, first.text).toBe(200);
      expect(foundIn(first.text, canaries)).toEqual([]);
      const hits = await again.request(
        `/v1/search/messages?q=${encodeURIComponent(victim.canaries.message)}`,
        bearer(owner.accessToken),
      );
      expect(hits.json<{ results: unknown[] }>().results).toEqual([]);
      const users = await again.request('/v1/users', bearer(owner.accessToken));
      expect(foundIn(users.text, canaries)).toEqual([]);
      const file = await again.request(`/v1/attachments/${victim.attachmentId}`, bearer(owner.accessToken));
      expect(file.status).toBe(404);
      expect((await again.request('/v1/me', bearer(victim.token))).status).toBe(401);
      const outbox = await again.request('/v1/admin/outbox', bearer(owner.accessToken));
      expect(outbox.status).toBe(200);
      expect(foundIn(outbox.text, canaries)).toEqual([]);
      // Erased again before listening: the log says so ahead of the first request's line.
      const lines = again.logs.entries();
      const reErased = lines.findIndex(
        (line) => line.msg === 'erased again accounts the erasure register names',
      );
      const firstRequest = lines.findIndex((line) => line.msg === 'request completed');
      expect(reErased).toBeGreaterThanOrEqual(0);
      expect(firstRequest === -1 || reErased < firstRequest).toBe(true);
      const erasure = await again.request(`/v1/users/${victim.userId}/erasure`, bearer(owner.accessToken));
      expect(erasure.json<ErasureBody>()).toMatchObject({ status: 'completed', source: 'register' });
      expect(foundIn(again.logs.text(), canaries)).toEqual([]);
    } finally {
      await again.close();
      if (restored.schema) await dropSchema(restored.schema);
    }
  });

  it('keeps no message readable when the user sends while the erasure runs', async () => {
    const victim = await newCanaryUser(server, owner);
    let stop = false;
    let sent = 0;
    const sender = async (worker: number) => {
      for (let index = 0; !stop && index < 500; index += 1) {
        const response = await server.request(
          `/v1/dialogs/${victim.dialogId}/messages`,
          json(
            { clientId: `race-${worker}-${index}`, body: `racing ${victim.canaries.message}` },
            victim.token,
          ),
        );
        if (response.status !== 201) return;
        sent += 1;
      }
    };
    const senders = [sender(1), sender(2)];
    try {
      expect((await eraseAsAdmin(victim.userId)).status).toBe(202);
      await erasureReaching(server, owner.accessToken, victim.userId);
    } finally {
      stop = true;
      await Promise.all(senders);
    }
    expect(sent).toBeGreaterThan(0);
    const readable = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .selectFrom('messages')
        .select('id')
        .where('sender_id', '=', victim.userId)
        .where((eb) => eb.or([eb('body', 'is not', null), eb('deleted_at', 'is', null)]))
        .execute(),
    );
    expect(readable).toEqual([]);
    const page = await history(victim.dialogId);
    expect(foundIn(page.text, [victim.canaries.message])).toEqual([]);
  });

  it('erases mail to the address that a flow in flight stored while the erasure ran', async () => {
    const victim = await newCanaryUser(server, owner);
    expect((await eraseAsAdmin(victim.userId)).status).toBe(202);
    await erasureReaching(server, owner.accessToken, victim.userId, 'running', 60_000, 10);
    // A reset or notice that looked the address up before the sessions ended stores its mail now, after the
    // erasure's first pass over the outbox.
    const { emailFlows } = server.app.services;
    emailFlows.deliver(owner.tenantId, victim.canaries.email, 'password_reset', {
      subject: 'Reset your Parley password',
      text: `A link for ${victim.canaries.email}`,
    });
    await emailFlows.drain();
    await erasureReaching(server, owner.accessToken, victim.userId);
    const outbox = await server.request('/v1/admin/outbox', bearer(owner.accessToken));
    expect(outbox.status).toBe(200);
    expect(foundIn(outbox.text, [victim.canaries.email])).toEqual([]);
  });

  it('under keep_as_deleted_user the text stays for the others, while files, search entries and profile go', async () => {
    const tenant = await newTenantOwner(server, 'Keeping Clinic');
    const set = await server.request(
      '/v1/tenant/erasure-settings',
      json({ messagePolicy: 'keep_as_deleted_user' }, tenant.accessToken, 'PATCH'),
    );
    expect(set.json()).toEqual({ graceDays: 14, messagePolicy: 'keep_as_deleted_user' });
    const victim = await newCanaryUser(server, tenant);
    // The text stays for the others, so their archives holding it stay too.
    const asked = await server.request('/v1/me/exports', bearer(tenant.accessToken, 'POST'));
    expect(asked.status, asked.text).toBe(202);
    const kept = asked.json<{ id: string }>().id;
    await exportReaching(tenant.accessToken, kept, 'ready');
    expect((await eraseAsAdmin(victim.userId, { graceDays: 0 }, tenant.accessToken)).status).toBe(202);
    const done = await erasureReaching(server, tenant.accessToken, victim.userId);
    expect(
      (await server.request(`/v1/me/exports/${kept}`, bearer(tenant.accessToken))).json<{ status: string }>()
        .status,
    ).toBe('ready');
    expect(done.certificate?.certificate).toMatchObject({
      messagePolicy: 'keep_as_deleted_user',
      erased: { messagesKept: 2, messagesErased: 0, searchEntries: 2, attachments: 1 },
    });
    const page = await history(victim.dialogId, tenant.accessToken);
    expect(foundIn(page.text, [victim.canaries.message])).toEqual([victim.canaries.message]);
    expect(foundIn(page.text, [victim.canaries.fileName, victim.canaries.name])).toEqual([]);
    const hits = await server.request(
      `/v1/search/messages?q=${encodeURIComponent(victim.canaries.message)}`,
      bearer(tenant.accessToken),
    );
    expect(hits.json<{ results: unknown[] }>().results).toEqual([]);
  });

  it('the SDK asks for the erasure with the password, follows it and cancels it', async () => {
    const email = `sdk-${Date.now()}@erasure.example`;
    await newMember(server, owner, email, 'profile');
    const http = trustingFetch(server.ca);
    const client = new ParleyClient({
      baseUrl: server.url,
      fetch: http.fetch,
      tokenStore: new MemoryTokenStore(),
    });
    await client.auth.signIn({
      tenantId: owner.tenantId,
      username: email,
      password: memberPassword,
      scope: 'profile',
    });
    await expect(client.account.erasure.status()).rejects.toBeInstanceOf(ParleyApiError);
    await expect(client.account.erasure.request('wrong password entirely')).rejects.toMatchObject({
      code: 'invalid_credentials',
    });
    const asked = await client.account.erasure.request(memberPassword);
    expect(asked.status).toBe('scheduled');
    expect((await client.account.erasure.status()).id).toBe(asked.id);
    expect((await client.account.erasure.cancel()).status).toBe('cancelled');
    // DELETE /v1/me is the same request (the API's fixed point for deleting one's account).
    const token = (await signIn(server, owner.tenantId, email, memberPassword, 'profile')).accessToken;
    const deleted = await server.request('/v1/me', json({ password: memberPassword }, token, 'DELETE'));
    expect(deleted.status, deleted.text).toBe(202);
    expect(deleted.json<ErasureBody>()).toMatchObject({ status: 'scheduled', source: 'subject' });
    expect((await server.request('/v1/me/erasure', bearer(token, 'DELETE'))).status).toBe(200);
    expect((await client.account.me()).email).toBe(email);
  });

  it('another tenant’s administrator gets 404, a member 403, and requests are rate-limited', async () => {
    const victim = await newMember(server, owner, `guarded-${Date.now()}@erasure.example`);
    const stranger = await newTenantOwner(server, 'Other Clinic');
    for (const method of ['POST', 'GET', 'DELETE']) {
      const response = await server.request(
        `/v1/users/${victim.userId}/erasure`,
        method === 'POST'
          ? json({ graceDays: 0 }, stranger.accessToken)
          : bearer(stranger.accessToken, method),
      );
      expect(response.status, `${method} ${response.text}`).toBe(404);
    }
    const member = await newMember(
      server,
      owner,
      `bystander-${Date.now()}@erasure.example`,
      'profile chat admin',
    );
    const refused = await eraseAsAdmin(victim.userId, { graceDays: 0 }, member.token);
    expect(refused.status).toBe(403);
    // Nothing was scheduled by any of them.
    expect(
      (await server.request(`/v1/users/${victim.userId}/erasure`, bearer(owner.accessToken))).status,
    ).toBe(404);

    // A person: five requests and cancellations an hour.
    const asking = await newMember(server, owner, `asking-${Date.now()}@erasure.example`);
    const answers: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      answers.push(
        (await server.request('/v1/me/erasure', json({ password: memberPassword }, asking.token))).status,
      );
      answers.push((await server.request('/v1/me/erasure', bearer(asking.token, 'DELETE'))).status);
    }
    expect(answers).toEqual([202, 200, 202, 200, 202, 429]);
    // A tenant: thirty erasures an hour.
    for (let count = 0; count < 30; count += 1)
      await server.app.services.counter.increment(`erasure:tenant:${stranger.tenantId}`, 3_600_000);
    const strangerMember = await newMember(server, stranger, `limited-${Date.now()}@other.example`);
    const limited = await eraseAsAdmin(strangerMember.userId, { graceDays: 0 }, stranger.accessToken);
    expect(limited.status).toBe(429);
  });

  /**
   * Every personal column erasure-coverage.ts says is cleared, and every table whose rows it says are deleted
   * or moved, checked on the erased account's rows: what still holds something.
   */
  async function leftovers(userId: string): Promise<string[]> {
    const schema = declaredSchema(dialect);
    const found: string[] = [];
    await server.app.storage.withTenant(owner.tenantId, async (tx) => {
      for (const [table, erasure] of Object.entries(erasureCoverage)) {
        const columns = schema.get(table);
        if (erasure.owner === undefined || columns === undefined) continue;
        const treatments = Object.entries(erasure.columns).filter(([column]) => columns.includes(column));
        const gone = treatments.every(([, treatment]) => treatment === 'deleted' || treatment === 'moved');
        const cleared = treatments
          .filter(([, treatment]) => treatment === 'cleared')
          .map(([column]) => column);
        const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}
          where tenant_id = ${owner.tenantId} and ${sql.ref(erasure.owner)} = ${userId}`.execute(tx);
        if (gone && rows.length > 0) found.push(`${table}: ${rows.length} rows`);
        for (const row of rows)
          for (const column of cleared)
            if (![null, '', 0, '0'].includes(row[column] as never)) found.push(`${table}.${column}`);
      }
    });
    return found;
  }

  /** Waits (bounded) until one's own export reaches `status`. */
  async function exportReaching(token: string, exportId: string, status: string): Promise<void> {
    for (let tries = 0; ; tries += 1) {
      const seen = await server.request(`/v1/me/exports/${exportId}`, bearer(token));
      if (seen.json<{ status: string }>().status === status) return;
      if (tries > 600) throw new Error(`the export did not reach ${status}: ${seen.text}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * What a cancelled erasure must leave exactly as it was: every row of every table erasure-coverage.ts says
   * the erasure touches by owner (the user's rows), and the rows of others it would change (their search
   * entries, the user's attachment). Only when a session was last used moves: the test's own requests use it.
   */
  async function snapshot(user: CanaryUser) {
    const schema = declaredSchema(dialect);
    const owned: Record<string, string[]> = {};
    await server.app.storage.withTenant(owner.tenantId, async (tx) => {
      for (const [table, erasure] of Object.entries(erasureCoverage)) {
        if (erasure.owner === undefined || !schema.has(table)) continue;
        const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}
          where tenant_id = ${owner.tenantId} and ${sql.ref(erasure.owner)} = ${user.userId}`.execute(tx);
        owned[table] = rows
          .map((row) => JSON.stringify({ ...row, ...(table === 'sessions' ? { last_used_at: null } : {}) }))
          .sort();
      }
    });
    expect(Object.keys(owned).length).toBeGreaterThan(10);
    expect(owned.messages?.length).toBe(2);
    return { owned, ...(await fixedRows(user)) };
  }

  async function fixedRows(user: CanaryUser) {
    return server.app.storage.withTenant(owner.tenantId, async (tx) => ({
      user: await tx.selectFrom('users').selectAll().where('id', '=', user.userId).executeTakeFirst(),
      key: await tx.selectFrom('user_keys').selectAll().where('user_id', '=', user.userId).executeTakeFirst(),
      messages: await tx
        .selectFrom('messages')
        .selectAll()
        .where('sender_id', '=', user.userId)
        .orderBy('id')
        .execute(),
      attachment: await tx
        .selectFrom('attachments')
        .selectAll()
        .where('id', '=', user.attachmentId)
        .executeTakeFirst(),
      search: await tx
        .selectFrom('message_search')
        .selectAll()
        .where('message_id', 'in', user.messageIds)
        .execute(),
      reactions: await tx
        .selectFrom('message_reactions')
        .selectAll()
        .where('user_id', '=', user.userId)
        .execute(),
      sessions: await tx
        .selectFrom('sessions')
        .select(['id', 'revoked_at', 'device'])
        .where('user_id', '=', user.userId)
        .orderBy('id')
        .execute(),
    }));
  }

  /** The ciphertexts of the user's sealed data as stored before erasure. */
  async function sealedCopies(user: CanaryUser): Promise<string[]> {
    return server.app.storage.withTenant(owner.tenantId, async (tx) => {
      const row = await tx
        .selectFrom('users')
        .select(['display_name', 'email'])
        .where('id', '=', user.userId)
        .executeTakeFirstOrThrow();
      const messages = await tx
        .selectFrom('messages')
        .select('body')
        .where('sender_id', '=', user.userId)
        .execute();
      const file = await tx
        .selectFrom('attachments')
        .select(['name', 'content_key'])
        .where('id', '=', user.attachmentId)
        .executeTakeFirstOrThrow();
      // The base64url tail of each envelope: what a byte-level search of the files would meet.
      return [
        row.display_name,
        row.email,
        ...messages.map((message) => message.body),
        file.name,
        file.content_key,
      ]
        .filter((value): value is string => value !== null)
        .map((envelope) => envelope.split('.').at(-1) ?? envelope);
    });
  }

  async function search(term: string): Promise<unknown[]> {
    const found = await server.request(
      `/v1/search/messages?q=${encodeURIComponent(term)}`,
      bearer(owner.accessToken),
    );
    expect(found.status, found.text).toBe(200);
    return found.json<{ results: unknown[] }>().results;
  }
});
