import {
  EXPORT_FORMAT,
  EXPORT_FORMAT_VERSION,
  exportArchiveJsonSchema,
  exportCollectionNames,
  type ExportManifest,
} from '@parley/protocol';
import { z } from 'zod';
import type { AttachmentService } from '../../attachments/attachment-service.ts';
import type { Clock } from '../../clock.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import { defineJob, Interrupted, type JobContext, JobError } from '../../jobs/index.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { accountSections } from './export-account-sections.ts';
import { type ArchiveEntry, type ChunkBatch, writeArchivePart } from './export-archive-writer.ts';
import { openArchiveKey, partContext } from './export-keys.ts';
import { messageSection } from './export-message-section.ts';
import { createPersonNamer } from './export-people.ts';
import { EXPORT_SECTION_NAMES } from './export-progress.ts';
import { recordSections } from './export-record-sections.ts';
import type { ExportRequestLog } from './export-request-log.ts';
import type { ExportScope, ExportSection, SectionPage } from './export-section.ts';
import { type ExportRow, exportStore } from './export-store.ts';

export const EXPORT_JOB_KIND = 'gdpr_export';
const DAY_MS = 86_400_000;
/** Tries before an export fails; each resumes from the last part written. */
const MAX_ATTEMPTS = 3;

const exportJobPayload = z.object({ exportId: z.uuid() });

/**
 * Where a build stands, committed with each part: the parts written, the section and its cursor to go on
 * from, pages and records written per collection, files and bytes. Ids and counts only.
 */
const exportJobProgress = z.object({
  nextPart: z.number().int().min(0),
  section: z.number().int().min(0),
  cursor: z.string().nullable(),
  pages: z.record(z.string(), z.number().int()),
  records: z.record(z.string(), z.number().int()),
  files: z.number().int(),
  bytes: z.number().int(),
});
type ExportProgress = z.infer<typeof exportJobProgress>;

const freshProgress = (): ExportProgress => ({
  nextPart: 0,
  section: 0,
  cursor: null,
  pages: {},
  records: {},
  files: 0,
  bytes: 0,
});

export interface ExportJobDeps {
  storage: Storage;
  fieldCipher: FieldCipher;
  audit: Pick<AuditLog, 'append' | 'query'>;
  attachments: Pick<AttachmentService, 'open'>;
  requests: ExportRequestLog | undefined;
  clock: Clock;
}

const README = (exportId: string) =>
  [
    `Parley data export ${exportId}`,
    '',
    'Your personal data as this service holds it (GDPR Art. 15 and 20), in JSON:',
    '- manifest.json: what this archive holds, with counts per collection;',
    '- profile.json and settings.json: your account;',
    '- one folder per collection (messages-sent, messages-received, dialogs, sessions, audit, ...), each',
    '  with pages 000001.json, 000002.json, ... holding { collection, page, records };',
    '- files/<id>/<name>: the files you uploaded;',
    '- schema.json: the JSON Schema of every file.',
    'Other people appear under pseudonyms (anon_...) unless your organisation exports their ids.',
    '',
  ].join('\n');

const pad = (page: number) => String(page).padStart(6, '0');
const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
const sum = (counts: Record<string, number>) =>
  Object.values(counts).reduce((total, count) => total + count, 0);

/** The archive entries of one section page, and the progress once they are written. */
function entriesOf(root: string, page: SectionPage, progress: ExportProgress) {
  const entries: ArchiveEntry[] = [];
  const pages = { ...progress.pages };
  const records = { ...progress.records };
  for (const [collection, list] of Object.entries(page.records)) {
    if (list.length === 0) continue;
    const number = (pages[collection] ?? 0) + 1;
    pages[collection] = number;
    records[collection] = (records[collection] ?? 0) + list.length;
    entries.push({
      path: `${root}/${collection}/${pad(number)}.json`,
      content: json({ collection, page: number, records: list }),
    });
  }
  for (const document of page.documents ?? [])
    entries.push({ path: `${root}/${document.name}`, content: json(document.content) });
  for (const file of page.files ?? []) entries.push({ ...file, path: `${root}/${file.path}` });
  return { entries, pages, records, files: progress.files + (page.files?.length ?? 0) };
}

/**
 * The durable job that builds an export archive (docs/privacy.md, "Access and portability"). Section by
 * section, page by page (keyset reads of at most 500 rows), it writes the archive as parts: each part is
 * the page's files as tar entries in one gzip member, STREAM-encrypted under the export's key and stored in
 * the database, and each part commits in the same transaction as the checkpoint that records it. A build
 * that stops (node restart, crash, lost claim) resumes after its last committed part: the chunks of a part
 * it was half-way through are deleted first, and the section is read again from the stored cursor. Memory
 * holds one page and a few chunks; an attachment streams through.
 */
export function createExportJob(deps: ExportJobDeps) {
  const { storage, fieldCipher, audit, clock, requests } = deps;

  /** Locks the export row; throws `Interrupted('cancelled')` when it was deleted while being built. */
  async function stillBuilding(tx: TenantTx, tenantId: string, exportId: string): Promise<ExportRow> {
    const row = await exportStore.lock(tx, tenantId, exportId, storage.dialect);
    if (row?.status !== 'running') throw new Interrupted('cancelled');
    return row;
  }

  /** Marks the export running (first run) and drops any part a stopped run left unfinished. */
  async function begin(context: JobContext<{ exportId: string }, ExportProgress>, tenantId: string) {
    const { job } = context;
    const { exportId } = job.payload;
    return storage.withTenant(tenantId, async (tx) => {
      const row = await exportStore.lock(tx, tenantId, exportId, storage.dialect);
      // Deleted, or its subject erased, before it ran: nothing to build.
      if (row?.status !== 'queued' && row?.status !== 'running') return undefined;
      const progress = job.progress ?? freshProgress();
      await exportStore.deleteParts(tx, tenantId, exportId, progress.nextPart);
      if (row.status === 'queued') {
        const now = clock.now();
        await exportStore.update(tx, tenantId, exportId, {
          status: 'running',
          started_at: now,
          updated_at: now,
        });
        if (requests && row.request_id !== null) await requests.startIn(tx, tenantId, row.request_id);
      }
      await context.checkpoint(progress, tx);
      const key = await openArchiveKey(tx, fieldCipher, tenantId, exportId, row.archive_key ?? '');
      return { row, progress, key };
    });
  }

  async function build(
    context: JobContext<{ exportId: string }, ExportProgress>,
    start: { row: ExportRow; progress: ExportProgress; key: Buffer },
  ): Promise<void> {
    const { row, key } = start;
    const { tenant_id: tenantId, id: exportId } = row;
    const root = `parley-export-${exportId}`;
    const mtime = new Date(row.created_at);
    const scope: ExportScope = {
      tenantId,
      subjectId: row.subject_id,
      policy: row.others_messages,
      name: createPersonNamer(key, row.subject_id, row.others_messages),
    };
    const sectionDeps = { storage, fieldCipher, audit, attachments: deps.attachments, requests };
    const sections: ExportSection[] = [
      ...accountSections(sectionDeps, scope),
      messageSection(sectionDeps, scope),
      ...recordSections(sectionDeps, scope),
    ];
    // The API's progress counts sections by these names and positions: a list out of step would mislead.
    if (sections.map((section) => section.name).join() !== EXPORT_SECTION_NAMES.join())
      throw new JobError('internal_error', 'the export sections differ from EXPORT_SECTION_NAMES');

    const storeChunks = (tx: TenantTx, part: number, batch: ChunkBatch) =>
      exportStore.insertChunks(
        tx,
        batch.chunks.map((data, offset) => ({
          tenant_id: tenantId,
          export_id: exportId,
          part,
          idx: batch.firstIndex + offset,
          data,
        })),
      );

    /** Writes one part and commits it with `after` (and `finish`, for the last) as one transaction. */
    async function writePart(
      entries: ArchiveEntry[],
      before: ExportProgress,
      after: Omit<ExportProgress, 'nextPart' | 'bytes'>,
      finish?: (tx: TenantTx, progress: ExportProgress) => Promise<void>,
    ): Promise<ExportProgress> {
      const part = before.nextPart;
      const written = await writeArchivePart({
        key,
        context: partContext(tenantId, exportId, part),
        entries,
        mtime,
        last: finish !== undefined,
        flush: (batch) =>
          storage.withTenant(tenantId, async (tx) => {
            await stillBuilding(tx, tenantId, exportId);
            await storeChunks(tx, part, batch);
          }),
      });
      const progress = { ...after, nextPart: part + 1, bytes: before.bytes + written.plainSize };
      await storage.withTenant(tenantId, async (tx) => {
        await stillBuilding(tx, tenantId, exportId);
        await storeChunks(tx, part, written.tail);
        await exportStore.insertPart(tx, {
          tenant_id: tenantId,
          export_id: exportId,
          part,
          stream_header: written.header.toString('base64'),
          chunk_count: written.chunkCount,
          plain_size: written.plainSize,
        });
        await exportStore.update(tx, tenantId, exportId, {
          part_count: progress.nextPart,
          archive_bytes: progress.bytes,
          records: sum(progress.records),
          updated_at: clock.now(),
        });
        await finish?.(tx, progress);
        await context.checkpoint(progress, tx);
      });
      return progress;
    }

    let progress = start.progress;
    while (progress.section < sections.length) {
      context.signal.throwIfAborted();
      const section = sections[progress.section];
      if (section === undefined) break;
      const page = await section.page(progress.cursor);
      const { entries, ...counts } = entriesOf(root, page, progress);
      const position =
        page.next === null
          ? { section: progress.section + 1, cursor: null }
          : { section: progress.section, cursor: page.next };
      // A page with nothing to write moves on without a part; redoing it after a stop costs one read.
      progress =
        entries.length === 0
          ? { ...progress, ...position }
          : await writePart(entries, progress, { ...progress, ...counts, ...position });
    }
    context.signal.throwIfAborted();
    await writePart(finalEntries(root, row, progress), progress, progress, (tx, done) =>
      complete(tx, row, done),
    );
  }

  function finalEntries(root: string, row: ExportRow, progress: ExportProgress): ArchiveEntry[] {
    const manifest: ExportManifest = {
      format: EXPORT_FORMAT,
      formatVersion: EXPORT_FORMAT_VERSION,
      exportId: row.id,
      tenantId: row.tenant_id,
      subjectId: row.subject_id,
      source: row.source,
      othersMessages: row.others_messages,
      requestedAt: new Date(row.created_at).toISOString(),
      generatedAt: new Date(clock.now()).toISOString(),
      collections: Object.fromEntries(
        exportCollectionNames.map((name) => [
          name,
          { pages: progress.pages[name] ?? 0, records: progress.records[name] ?? 0 },
        ]),
      ),
      files: progress.files,
    };
    return [
      { path: `${root}/README.txt`, content: Buffer.from(README(row.id), 'utf8') },
      { path: `${root}/schema.json`, content: json(exportArchiveJsonSchema()) },
      { path: `${root}/manifest.json`, content: json(manifest) },
    ];
  }

  /** The archive is whole: ready to download until its expiry; the request is answered. */
  async function complete(tx: TenantTx, row: ExportRow, progress: ExportProgress): Promise<void> {
    const now = clock.now();
    const expiresAt = now + row.retention_days * DAY_MS;
    await exportStore.update(tx, row.tenant_id, row.id, {
      status: 'ready',
      completed_at: now,
      expires_at: expiresAt,
      updated_at: now,
    });
    if (requests && row.request_id !== null) {
      const until = new Date(expiresAt).toISOString();
      await requests.closeIn(
        tx,
        row.tenant_id,
        row.request_id,
        'completed',
        `An export archive was prepared; it can be downloaded until ${until}.`,
      );
    }
    await audit.append(tx, row.tenant_id, {
      actor: { type: 'system' },
      action: 'privacy.export_completed',
      target: { type: 'data_export', id: row.id },
      outcome: 'success',
      details: {
        subjectId: row.subject_id,
        records: sum(progress.records),
        files: progress.files,
        bytes: progress.bytes,
      },
    });
  }

  /** The last try failed: the export is marked failed and what it wrote is deleted. */
  async function fail(tenantId: string, exportId: string, code: string): Promise<void> {
    await storage.withTenant(tenantId, async (tx) => {
      const row = await exportStore.lock(tx, tenantId, exportId, storage.dialect);
      if (row?.status !== 'running' && row?.status !== 'queued') return;
      await exportStore.deleteParts(tx, tenantId, exportId);
      const now = clock.now();
      await exportStore.update(tx, tenantId, exportId, {
        status: 'failed',
        error_code: code,
        archive_key: null,
        updated_at: now,
      });
      await audit.append(tx, tenantId, {
        actor: { type: 'system' },
        action: 'privacy.export_failed',
        target: { type: 'data_export', id: exportId },
        outcome: 'failure',
        details: { subjectId: row.subject_id, errorCode: code },
      });
    });
  }

  return defineJob({
    kind: EXPORT_JOB_KIND,
    payload: exportJobPayload,
    progress: exportJobProgress,
    maxAttempts: MAX_ATTEMPTS,
    async run(context) {
      const tenantId = context.job.tenantId;
      if (tenantId === null) throw new JobError('invalid_job', 'an export belongs to a tenant');
      const start = await begin(context, tenantId);
      if (start === undefined) return;
      try {
        await build(context, start);
      } catch (error) {
        if (!(error instanceof Interrupted) && context.job.attempt >= MAX_ATTEMPTS)
          await fail(tenantId, start.row.id, error instanceof JobError ? error.code : 'internal_error');
        throw error;
      }
    },
  });
}

export type ExportJob = ReturnType<typeof createExportJob>;
