import { randomBytes } from 'node:crypto';
import type { DataExportBody, ExportManifest } from '@parley/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXPORT_SECTION_NAMES } from '../../../src/compliance/gdpr/export-progress.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import { bearer, newMember, newTenantOwner, type SignedIn } from '../../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';
import { unpackArchive } from './export-archive-fixtures.ts';
import { downloadBytes, runDueJobs } from './export-download.ts';
import { buildWorld } from './export-world.ts';

const unique = () => randomBytes(4).toString('hex');

/**
 * An export says how far its build has gone (`progress`: sections done of all of them, and the one being
 * read), so the console can draw a determinate progress bar. The number must be honest: never more done
 * than there is, all done exactly when the archive is ready, and absent when nothing is being built.
 */
describeEachDialect('data export progress', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  /** The server's clock: real time plus what a test moved it by. */
  const clock = { offset: 0, now: () => Date.now() + clock.offset };
  const sectionsTotal = EXPORT_SECTION_NAMES.length;

  const status = async (id: string) => {
    const response = await server.request(`/v1/exports/${id}`, bearer(owner.accessToken));
    expect(response.status, response.text).toBe(200);
    return response.json<DataExportBody>();
  };

  /** A member with a dialog and an upload, and a way to read and overwrite the upload's first stored chunk. */
  async function subjectWithUpload() {
    const subject = await newMember(server, owner, `progress-${unique()}@progress.example`);
    const world = await buildWorld(server, owner.tenantId, subject.userId, {
      others: 1,
      dialogs: [{ type: 'private', members: [0, 1], hideHistory: false }],
      actions: [
        { kind: 'send', dialog: 0, sender: 0, attach: false },
        { kind: 'send', dialog: 0, sender: 1, attach: false },
        { kind: 'upload', user: 0 },
      ],
    });
    const [upload] = world.uploads;
    if (!upload) throw new Error('the world has the subject’s upload');
    const firstChunk = () =>
      server.app.storage.withTenant(owner.tenantId, (tx) =>
        tx
          .selectFrom('attachment_chunks')
          .select('data')
          .where('tenant_id', '=', owner.tenantId)
          .where('attachment_id', '=', upload.id)
          .where('idx', '=', 0)
          .executeTakeFirstOrThrow(),
      );
    const setFirstChunk = (data: Buffer) =>
      server.app.storage.withTenant(owner.tenantId, (tx) =>
        tx
          .updateTable('attachment_chunks')
          .set({ data })
          .where('tenant_id', '=', owner.tenantId)
          .where('attachment_id', '=', upload.id)
          .where('idx', '=', 0)
          .execute(),
      );
    return { subject, firstChunk, setFirstChunk };
  }

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock, env: { PARLEY_JOB_POLL_INTERVAL_MS: '10000' } });
    owner = await newTenantOwner(server, 'Progress Ltd');
  });

  afterAll(async () => {
    await server.close();
  });

  it('a queued export has done none of its sections; part-way it names the section being read, with no more done than there are; once ready all are done and the records match the manifest', async () => {
    const { subject, firstChunk, setFirstChunk } = await subjectWithUpload();
    // The upload is damaged: the build stops at the uploads section, after everything before it is written.
    const original = await firstChunk();
    const damaged = Buffer.from(original.data);
    damaged[0] = (damaged[0] ?? 0) ^ 0xff;
    await setFirstChunk(damaged);

    const requested = await server.request(
      `/v1/users/${subject.userId}/exports`,
      bearer(owner.accessToken, 'POST'),
    );
    expect(requested.status, requested.text).toBe(202);
    const queued = requested.json<DataExportBody>();
    expect(queued.status).toBe('queued');
    expect(queued.progress).toEqual({ section: null, sectionsDone: 0, sectionsTotal });
    expect(queued.recordsWritten).toBe(0);

    await runDueJobs(server);
    // Hold the retry: with the clock set back, the runner's own ticks find it not yet due.
    clock.offset = -120_000;
    const midway = await status(queued.id);
    expect(midway.status).toBe('running');
    const uploads = EXPORT_SECTION_NAMES.indexOf('attachments');
    expect(midway.progress).toEqual({ section: 'attachments', sectionsDone: uploads, sectionsTotal });
    expect(midway.progress?.sectionsDone).toBeLessThan(sectionsTotal);
    // Messages, dialogs and the profile's audit entries are in already.
    expect(midway.recordsWritten).toBeGreaterThan(0);
    // The subject's own listing shows the same progress.
    const listed = await server.request(`/v1/users/${subject.userId}/exports`, bearer(owner.accessToken));
    expect(listed.status, listed.text).toBe(200);
    const [entry] = listed.json<{ exports: DataExportBody[] }>().exports;
    expect(entry?.progress).toEqual(midway.progress);

    await setFirstChunk(original.data);
    clock.offset = 11_000; // past the retry's back-off
    try {
      await runDueJobs(server);
    } finally {
      clock.offset = 0;
    }
    const ready = await status(queued.id);
    expect(ready.status).toBe('ready');
    expect(ready.progress).toEqual({ section: null, sectionsDone: sectionsTotal, sectionsTotal });
    expect(ready.recordsWritten).toBeGreaterThanOrEqual(midway.recordsWritten);

    const download = await downloadBytes(server, `/v1/exports/${queued.id}/archive`, owner.accessToken);
    expect(download.status).toBe(200);
    const files = await unpackArchive(download.body);
    const manifest = files.get(`parley-export-${queued.id}/manifest.json`);
    if (!manifest) throw new Error('the archive has its manifest');
    const { collections } = JSON.parse(manifest.toString('utf8')) as ExportManifest;
    const records = Object.values(collections).reduce((total, { records: count }) => total + count, 0);
    expect(ready.recordsWritten).toBe(records);
  });

  it('a failed or destroyed export has no progress (null): nothing is being built', async () => {
    const { subject, setFirstChunk } = await subjectWithUpload();
    await setFirstChunk(randomBytes(64));
    const failing = await server.request(
      `/v1/users/${subject.userId}/exports`,
      bearer(owner.accessToken, 'POST'),
    );
    const { id } = failing.json<DataExportBody>();
    try {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        await runDueJobs(server);
        clock.offset += 3_600_000; // past any back-off
      }
    } finally {
      clock.offset = 0;
    }
    const failed = await status(id);
    expect(failed.status).toBe('failed');
    expect(failed.progress).toBeNull();

    const other = await newMember(server, owner, `destroyed-${unique()}@progress.example`);
    const requested = await server.request(`/v1/me/exports`, bearer(other.token, 'POST'));
    expect(requested.status, requested.text).toBe(202);
    const queued = requested.json<DataExportBody>();
    const deleted = await server.request(`/v1/me/exports/${queued.id}`, bearer(other.token, 'DELETE'));
    expect(deleted.status).toBe(204);
    const gone = await server.request(`/v1/me/exports/${queued.id}`, bearer(other.token));
    expect(gone.json<DataExportBody>()).toMatchObject({ status: 'destroyed', progress: null });
  });
});
