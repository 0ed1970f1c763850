import { randomBytes } from 'node:crypto';
import { type DataExportBody, sendMessageBody } from '@parley/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../support/dialects.ts';
import {
  bearer,
  memberPassword,
  newMember,
  newTenantOwner,
  type SignedIn,
  signIn,
} from '../../support/identity-fixtures.ts';
import { startTestServer, type TestResponse, type TestServer } from '../../support/start-server.ts';
import { unpackArchive } from './export-archive-fixtures.ts';
import { downloadBytes, runDueJobs } from './export-download.ts';
import { expectArchiveMatchesDatabase } from './export-expectations.ts';
import { buildWorld } from './export-world.ts';
import { auditEntries, storedRequest } from './gdpr-fixtures.ts';

const DAY_MS = 86_400_000;
const unique = () => randomBytes(4).toString('hex');

describeEachDialect('data export lifecycle', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  /** The server's clock: real time plus what a test moved it by. */
  const clock = { offset: 0, now: () => Date.now() + clock.offset };

  const code = (response: TestResponse) => response.json<{ error: { code: string } }>().error.code;
  const stored = (exportId: string) =>
    server.app.storage.withTenant(owner.tenantId, async (tx) => ({
      row: await tx
        .selectFrom('data_exports')
        .selectAll()
        .where('tenant_id', '=', owner.tenantId)
        .where('id', '=', exportId)
        .executeTakeFirstOrThrow(),
      parts: await tx
        .selectFrom('data_export_parts')
        .selectAll()
        .where('tenant_id', '=', owner.tenantId)
        .where('export_id', '=', exportId)
        .orderBy('part')
        .execute(),
      chunks: await tx
        .selectFrom('data_export_chunks')
        .select(['part', 'idx'])
        .where('tenant_id', '=', owner.tenantId)
        .where('export_id', '=', exportId)
        .execute(),
    }));
  const job = (jobId: string) =>
    server.app.storage.withTenant(owner.tenantId, (tx) =>
      server.app.jobs.queue.get(tx, owner.tenantId, jobId),
    );

  /** A member who asked for an export that is now built. */
  async function readyExport() {
    const email = `member-${unique()}@lifecycle.example`;
    const member = await newMember(server, owner, email);
    const requested = await server.request('/v1/me/exports', bearer(member.token, 'POST'));
    expect(requested.status, requested.text).toBe(202);
    await runDueJobs(server);
    const id = requested.json<DataExportBody>().id;
    return { member, email, id };
  }

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock, env: { PARLEY_JOB_POLL_INTERVAL_MS: '10000' } });
    owner = await newTenantOwner(server, 'Lifecycle Ltd');
  });

  afterAll(async () => {
    await server.close();
  });

  it('an archive past its expiry is refused at once (410 export_expired), and the sweep deletes its parts and key and audits it', async () => {
    const { member, email, id } = await readyExport();
    expect((await stored(id)).parts.length).toBeGreaterThan(0);
    clock.offset += 7 * DAY_MS + 60_000;
    try {
      // Tokens expired with the days gone by: sign in again, as the user would.
      const token = (await signIn(server, owner.tenantId, email, memberPassword, 'profile')).accessToken;
      const late = await server.request(`/v1/me/exports/${id}/archive`, bearer(token));
      expect(late.status).toBe(410);
      expect(code(late)).toBe('export_expired');

      // The scheduled sweep may get there first: either way the archive is gone.
      await server.app.services.exports.sweep();
      const { row, parts, chunks } = await stored(id);
      expect(row).toMatchObject({ status: 'destroyed', destroyed_reason: 'expired', archive_key: null });
      expect(parts).toEqual([]);
      expect(chunks).toEqual([]);
      const status = (await server.request(`/v1/me/exports/${id}`, bearer(token))).json<DataExportBody>();
      expect(status).toMatchObject({ status: 'destroyed', destroyedReason: 'expired' });
      expect(code(await server.request(`/v1/me/exports/${id}/archive`, bearer(token)))).toBe(
        'export_expired',
      );
      const destroyed = (await auditEntries(server, owner.tenantId, 'privacy.export_destroyed')).filter(
        (entry) => entry.target_id === id,
      );
      expect(destroyed).toMatchObject([{ actor_id: null, outcome: 'success' }]);
      expect(member.userId).toBe(row.subject_id);
    } finally {
      clock.offset = 0;
    }
  });

  it('a user deletes a ready archive early (then 410 export_destroyed); deleting one still queued stops its job and cancels its request', async () => {
    const { member, id } = await readyExport();
    const deleted = await server.request(`/v1/me/exports/${id}`, bearer(member.token, 'DELETE'));
    expect(deleted.status).toBe(204);
    const gone = await server.request(`/v1/me/exports/${id}/archive`, bearer(member.token));
    expect(gone.status).toBe(410);
    expect(code(gone)).toBe('export_destroyed');
    expect((await stored(id)).parts).toEqual([]);

    const requested = await server.request('/v1/me/exports', bearer(member.token, 'POST'));
    const queued = requested.json<DataExportBody>();
    expect((await server.request(`/v1/me/exports/${queued.id}`, bearer(member.token, 'DELETE'))).status).toBe(
      204,
    );
    const { row } = await stored(queued.id);
    expect(row).toMatchObject({ status: 'destroyed', destroyed_reason: 'deleted' });
    expect(await job(row.job_id)).toMatchObject({ state: 'cancelled' });
    expect(await storedRequest(server, owner.tenantId, queued.requestId ?? '')).toMatchObject({
      status: 'cancelled',
    });
    await runDueJobs(server);
    expect((await stored(queued.id)).parts).toEqual([]);
  });

  it('a build that fails part-way resumes on its next try after its last written part (a half-written part is dropped first) and gives a correct archive', async () => {
    const subject = await newMember(server, owner, `resume-${unique()}@lifecycle.example`);
    const world = await buildWorld(server, owner.tenantId, subject.userId, {
      others: 2,
      dialogs: [{ type: 'group', members: [0, 1, 2], hideHistory: false }],
      actions: [
        { kind: 'upload', user: 0 },
        { kind: 'send', dialog: 0, sender: 0, attach: true },
      ],
    });
    // Enough messages for several pages, so several parts are written before the uploads section.
    const [dialog] = world.dialogs;
    if (!dialog) throw new Error('the world has its dialog');
    for (let batch = 0; batch < 12; batch += 1) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, n) => {
          const senderId = world.people[n % 3] ?? subject.userId;
          const body = `bulk-${batch}-${n}-${unique()}`;
          const sent = await server.app.services.messages.send(
            owner.tenantId,
            senderId,
            dialog.id,
            sendMessageBody.parse({ clientId: unique(), body }),
          );
          world.messages.push({ id: sent.message.id, dialogId: dialog.id, senderId, body });
        }),
      );
    }
    // The subject's upload is damaged: reading it for the archive fails the try.
    const [upload] = world.uploads;
    if (!upload) throw new Error('the world has the subject’s upload');
    const chunk = () =>
      server.app.storage.withTenant(owner.tenantId, (tx) =>
        tx
          .selectFrom('attachment_chunks')
          .selectAll()
          .where('tenant_id', '=', owner.tenantId)
          .where('attachment_id', '=', upload.id)
          .where('idx', '=', 0)
          .executeTakeFirstOrThrow(),
      );
    const original = await chunk();
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
    const damaged = Buffer.from(original.data);
    damaged[0] = (damaged[0] ?? 0) ^ 0xff;
    await setChunk(damaged);

    const requested = await server.request(
      `/v1/users/${subject.userId}/exports`,
      bearer(owner.accessToken, 'POST'),
    );
    expect(requested.status, requested.text).toBe(202);
    const { id } = requested.json<DataExportBody>();
    await runDueJobs(server);
    // Hold the retry: with the clock set back, the runner's own ticks find it not yet due.
    clock.offset = -120_000;
    const first = await stored(id);
    const failedTry = await job(first.row.job_id);
    expect(failedTry).toMatchObject({ state: 'queued', attempts: 1, errorCode: 'internal_error' });
    const written = (failedTry?.progress as { nextPart: number }).nextPart;
    expect(written).toBeGreaterThanOrEqual(5); // profile, consents, sessions, dialogs, three pages of messages…
    expect(first.row.status).toBe('running');
    expect(first.parts.map((part) => part.part)).toEqual(Array.from({ length: written }, (_, n) => n));

    // As if a node had died half-way through the next part: chunks of it without its part row.
    await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .insertInto('data_export_chunks')
        .values({ tenant_id: owner.tenantId, export_id: id, part: written, idx: 0, data: randomBytes(100) })
        .execute(),
    );
    await setChunk(original.data);
    clock.offset = 11_000; // past the retry's back-off
    try {
      await runDueJobs(server);
    } finally {
      clock.offset = 0;
    }
    const second = await stored(id);
    expect(await job(second.row.job_id)).toMatchObject({ state: 'succeeded', attempts: 2 });
    expect(second.row.status).toBe('ready');
    // The parts of the first try were kept, not written again: the same stream headers (random per part).
    expect(second.parts.slice(0, written).map((part) => part.stream_header)).toEqual(
      first.parts.map((part) => part.stream_header),
    );
    const exported = (
      await server.request(`/v1/exports/${id}`, bearer(owner.accessToken))
    ).json<DataExportBody>();
    const download = await downloadBytes(server, `/v1/exports/${id}/archive`, owner.accessToken);
    expect(download.status).toBe(200);
    await expectArchiveMatchesDatabase(server, world, exported, await unpackArchive(download.body));
  });

  it('a build that fails on its last try is marked failed and leaves nothing behind', async () => {
    const subject = await newMember(server, owner, `failing-${unique()}@lifecycle.example`);
    const world = await buildWorld(server, owner.tenantId, subject.userId, {
      others: 1,
      dialogs: [{ type: 'private', members: [0, 1], hideHistory: false }],
      actions: [{ kind: 'upload', user: 0 }],
    });
    const [upload] = world.uploads;
    if (!upload) throw new Error('the world has the subject’s upload');
    await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .updateTable('attachment_chunks')
        .set({ data: randomBytes(64) })
        .where('tenant_id', '=', owner.tenantId)
        .where('attachment_id', '=', upload.id)
        .execute(),
    );
    const requested = await server.request(
      `/v1/users/${subject.userId}/exports`,
      bearer(owner.accessToken, 'POST'),
    );
    const { id } = requested.json<DataExportBody>();
    try {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        await runDueJobs(server);
        clock.offset += 3_600_000; // past any back-off
      }
    } finally {
      clock.offset = 0;
    }
    const { row, parts, chunks } = await stored(id);
    expect(row).toMatchObject({ status: 'failed', error_code: 'internal_error', archive_key: null });
    expect(parts).toEqual([]);
    expect(chunks).toEqual([]);
    const download = await server.request(`/v1/exports/${id}/archive`, bearer(owner.accessToken));
    expect(download.status).toBe(409);
    expect(code(download)).toBe('export_failed');
    const failed = (await auditEntries(server, owner.tenantId, 'privacy.export_failed')).filter(
      (entry) => entry.target_id === id,
    );
    expect(failed).toHaveLength(1);
  });
});
