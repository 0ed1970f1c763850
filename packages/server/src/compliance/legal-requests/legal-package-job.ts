import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../../clock.ts';
import type { FieldCipher, FieldLocation } from '../../crypto/field-cipher.ts';
import { STREAM_KEY_SIZE } from '../../crypto/stream-cipher.ts';
import { defineJob, JobError } from '../../jobs/index.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import { PLATFORM_CHAIN_ID } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { type ArchiveEntry, writeArchivePart } from '../gdpr/export-archive-writer.ts';
import { readArchive } from '../gdpr/export-archive-reader.ts';
import { legalPackageStore as store, type LegalPackageRow } from './legal-package-store.ts';
import { type LegalSectionDeps, legalSections } from './legal-package-sections.ts';
import { readScope } from './legal-scope.ts';

export const LEGAL_PACKAGE_JOB_KIND = 'legal_disclosure_package';
/** How long a ready package can be downloaded before it is destroyed. */
export const LEGAL_PACKAGE_WINDOW_MS = 7 * 86_400_000;
const MAX_ATTEMPTS = 3;

/** The archive key's place: sealed with the tenant key, bound to this package's row. */
const keyLocation = (tenantId: string, packageId: string): FieldLocation => ({
  tenantId,
  table: 'legal_packages',
  column: 'archive_key',
  rowId: packageId,
});

/** The stream cipher's associated data: the archive opens only as this package of this tenant. */
export const packageContext = (tenantId: string, packageId: string): Buffer =>
  Buffer.from(`parley/v1/legal-package/${tenantId}/${packageId}`, 'utf8');

export async function sealPackageKey(tx: TenantTx, fieldCipher: FieldCipher, tenantId: string, id: string) {
  const key = randomBytes(STREAM_KEY_SIZE).toString('base64');
  return fieldCipher.sealForTenant(tx, keyLocation(tenantId, id), key);
}

export async function openPackageKey(
  tx: TenantTx,
  fieldCipher: FieldCipher,
  row: Pick<LegalPackageRow, 'tenant_id' | 'id' | 'archive_key'>,
): Promise<Buffer> {
  const sealed = row.archive_key ?? '';
  return Buffer.from(await fieldCipher.open(tx, keyLocation(row.tenant_id, row.id), sealed), 'base64');
}

/** The package's plaintext (.tar.gz), read back chunk by chunk, each verified before it is emitted. */
export function readPackage(storage: Storage, row: LegalPackageRow, key: Buffer) {
  return readArchive({
    key,
    contextOf: () => packageContext(row.tenant_id, row.id),
    parts: [
      { part: 0, streamHeader: Buffer.from(row.stream_header ?? '', 'base64'), chunkCount: row.chunk_count },
    ],
    partCount: 1,
    chunks: (_part, from, to) =>
      storage.withTenant(row.tenant_id, (tx) => store.chunks(tx, row.tenant_id, row.id, from, to)),
  });
}

const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
const pad = (page: number) => String(page).padStart(6, '0');

export interface LegalPackageJobDeps extends LegalSectionDeps {
  audit: Pick<AuditLog, 'append'>;
  clock: Clock;
}

/**
 * The durable job that builds a disclosure package with the export engine: the approved scope's sections,
 * page by page (keyset reads of at most 500 rows), as tar entries in one gzip member sealed with the stream
 * cipher under the package's own key (sealed with the tenant key), stored in chunks as they fill. Then the
 * archive is read back (every chunk verified) to hash it, and the hash is recorded on the package and on the
 * request in one transaction with the platform audit entry. A system job (the tenant's job list must not
 * show it while a non-disclosure order holds); a retry starts the archive over.
 */
export function createLegalPackageJob(deps: LegalPackageJobDeps) {
  const { storage, fieldCipher, audit, clock } = deps;

  async function begin(tenantId: string, packageId: string) {
    const row = await storage.withTenant(tenantId, async (tx) => {
      const found = await store.lock(tx, tenantId, packageId, storage.dialect);
      if (found?.status !== 'building') return undefined;
      await store.deleteChunks(tx, tenantId, packageId);
      return { row: found, key: await openPackageKey(tx, fieldCipher, found) };
    });
    if (row === undefined) return undefined;
    const request = await storage.withSystem((tx) =>
      tx
        .selectFrom('legal_requests')
        .select(['id', 'approved_scope_spec', 'status'])
        .where('id', '=', row.row.request_id)
        .executeTakeFirst(),
    );
    const scope = readScope(request?.approved_scope_spec);
    if (request?.status !== 'approved' || scope === null)
      throw new JobError('legal_scope_undefined', 'the request has no approved scope');
    return { ...row, scope };
  }

  async function build(tenantId: string, packageId: string) {
    const start = await begin(tenantId, packageId);
    if (start === undefined) return;
    const { row, key, scope } = start;
    const root = `parley-disclosure-${row.request_id}`;
    const counts: Record<string, number> = {};
    async function* entries(): AsyncGenerator<ArchiveEntry> {
      for (const section of legalSections(deps, tenantId, scope)) {
        let cursor: string | null = null;
        let page = 0;
        do {
          const read = await section.page(cursor);
          cursor = read.next;
          counts[read.collection] = (counts[read.collection] ?? 0) + read.records.length;
          if (read.records.length === 0) continue;
          page += 1;
          yield {
            path: `${root}/${read.collection}/${pad(page)}.json`,
            content: json({ collection: read.collection, page, records: read.records }),
          };
        } while (cursor !== null);
      }
      yield {
        path: `${root}/manifest.json`,
        content: json({
          format: 'parley-disclosure',
          requestId: row.request_id,
          packageId: row.id,
          tenantId,
          scope,
          records: counts,
          generatedAt: new Date(row.created_at).toISOString(),
        }),
      };
    }
    const written = await writeArchivePart({
      key,
      context: packageContext(tenantId, row.id),
      entries: entries(),
      mtime: new Date(row.created_at),
      last: true,
      flush: (batch) =>
        storage.withTenant(tenantId, (tx) =>
          store.insertChunks(tx, tenantId, row.id, batch.firstIndex, batch.chunks),
        ),
    });
    await storage.withTenant(tenantId, async (tx) => {
      await store.insertChunks(tx, tenantId, row.id, written.tail.firstIndex, written.tail.chunks);
      await store.update(tx, tenantId, row.id, {
        stream_header: written.header.toString('base64'),
        chunk_count: written.chunkCount,
        plain_size: written.plainSize,
      });
    });
    const stored = {
      ...row,
      stream_header: written.header.toString('base64'),
      chunk_count: written.chunkCount,
    };
    const hash = createHash('sha256');
    for await (const piece of readPackage(storage, stored, key)) hash.update(piece as Buffer);
    await complete(
      row,
      hash.digest('hex'),
      Object.values(counts).reduce((a, b) => a + b, 0),
    );
  }

  /** Ready: the hash on the package and on the request, with the platform audit entry, in one transaction. */
  async function complete(row: LegalPackageRow, sha256: string, records: number) {
    const now = clock.now();
    await storage.withSystem(async (tx) => {
      await tx
        .updateTable('legal_requests')
        .set({ package_sha256: sha256, updated_at: now })
        .where('id', '=', row.request_id)
        .execute();
      const tenantTx = await storage.enterTenant(tx, row.tenant_id);
      await store.update(tenantTx, row.tenant_id, row.id, {
        status: 'ready',
        sha256,
        records,
        completed_at: now,
        expires_at: now + LEGAL_PACKAGE_WINDOW_MS,
        updated_at: now,
      });
      await audit.append(await storage.enterTenant(tx, PLATFORM_CHAIN_ID), PLATFORM_CHAIN_ID, {
        actor: { type: 'system' },
        action: 'legal_request.package_built',
        target: { type: 'legal_request', id: row.request_id },
        outcome: 'success',
        details: { packageId: row.id, sha256, records },
      });
    });
  }

  async function fail(tenantId: string, packageId: string, code: string) {
    await storage.withTenant(tenantId, async (tx) => {
      await store.deleteChunks(tx, tenantId, packageId);
      await store.update(tx, tenantId, packageId, {
        status: 'failed',
        archive_key: null,
        updated_at: clock.now(),
      });
    });
    await storage.withSystem(async (tx) => {
      await audit.append(await storage.enterTenant(tx, PLATFORM_CHAIN_ID), PLATFORM_CHAIN_ID, {
        actor: { type: 'system' },
        action: 'legal_request.package_failed',
        target: { type: 'legal_package', id: packageId },
        outcome: 'failure',
        details: { errorCode: code },
      });
    });
  }

  return defineJob({
    kind: LEGAL_PACKAGE_JOB_KIND,
    payload: z.object({ packageId: z.uuid(), tenantId: z.uuid() }),
    progress: z.object({}),
    maxAttempts: MAX_ATTEMPTS,
    async run(context) {
      const { packageId, tenantId } = context.job.payload;
      try {
        await build(tenantId, packageId);
      } catch (error) {
        if (context.job.attempt >= MAX_ATTEMPTS || error instanceof JobError)
          await fail(tenantId, packageId, error instanceof JobError ? error.code : 'internal_error');
        throw error;
      }
    },
  });
}

export type LegalPackageJob = ReturnType<typeof createLegalPackageJob>;
