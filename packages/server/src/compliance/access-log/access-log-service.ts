import { AppError } from '../../app-error.ts';
import { newId } from '../../ids.ts';
import { decodeKeysetCursor, encodeKeysetCursor } from '../../keyset-cursor.ts';
import type { Storage } from '../../storage/database.ts';
import type { AuditInput } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { withAuditMaintenance } from '../audit/audit-prune-store.ts';
import type { RequestContext } from '../audit/request-context.ts';
import {
  ACCESS_BATCH_ACTION,
  type AccessKind,
  batchDigest,
  type UnbatchedAccessRow,
} from './access-record.ts';
import type { PendingAccess } from './access-recorder.ts';
import { type AccessLogRow, type AccessRowFilter, accessLogStore } from './access-log-store.ts';

/** Reads chained by one audit entry at most; a larger flush is written as several batches. */
const MAX_BATCH = 5000;
const MAX_PAGE = 500;

/** One record as the API and the CLI show it: an explicit field list. */
export interface AccessRecordView {
  id: string;
  kind: AccessKind;
  reader: { type: AccessLogRow['reader_type']; id: string | null; sessionId: string | null };
  /** Set when operator staff read under a support access grant. */
  supportGrantId: string | null;
  dialogId: string | null;
  /** The sequence range read (history, search, realtime), inclusive. */
  seqRange: { from: number; to: number } | null;
  /** The attachment or export archive read. */
  fileId: string | null;
  firstReadAt: string;
  lastReadAt: string;
  /** The audit chain entry that chains this record's batch. */
  batchSeq: number;
}

/** Who asks (audited with the question): a compliance officer's request, or the operator's CLI. */
export interface AccessLogAsker {
  actor: AuditInput['actor'];
  context: RequestContext;
}

export interface AccessLogPage {
  records: AccessRecordView[];
  nextCursor?: string;
}

/**
 * The access log's database side (docs/compliance.md "Access log"): writes a batch of reads with one audit
 * entry that chains it, answers "who read this dialog (or this user's messages) between these times", and
 * removes records whose chain entries audit retention pruned.
 */
export function createAccessLogService(deps: { storage: Storage; audit: AuditLog }) {
  const { storage, audit } = deps;

  /** Writes reads as batches: rows and the `access_log.recorded` audit entry in one transaction each. */
  async function writeBatch(tenantId: string, reads: readonly PendingAccess[]): Promise<void> {
    for (let start = 0; start < reads.length; start += MAX_BATCH) {
      const rows: UnbatchedAccessRow[] = reads.slice(start, start + MAX_BATCH).map((read) => ({
        tenant_id: tenantId,
        id: newId(),
        kind: read.kind,
        reader_type: read.reader.type,
        reader_id: read.reader.id,
        grant_id: read.reader.grantId,
        session_id: read.reader.sessionId,
        dialog_id: read.dialogId,
        from_seq: read.fromSeq,
        to_seq: read.toSeq,
        file_id: read.fileId,
        first_read_at: read.firstReadAt,
        last_read_at: read.lastReadAt,
      }));
      await storage.withTenant(tenantId, async (tx) => {
        const { seq } = await audit.append(tx, tenantId, {
          actor: { type: 'system' },
          action: ACCESS_BATCH_ACTION,
          outcome: 'success',
          details: {
            records: rows.length,
            digest: batchDigest(rows),
            firstReadAt: Math.min(...rows.map((row) => row.first_read_at)),
            lastReadAt: Math.max(...rows.map((row) => row.last_read_at)),
          },
        });
        await accessLogStore.insert(
          tx,
          rows.map((row) => ({ ...row, batch_seq: seq })),
        );
      });
    }
  }

  return {
    writeBatch,

    /**
     * One page of the records matching `filter`, oldest first. A dialog that is not the tenant's is
     * `not_found` (another tenant's id reveals nothing).
     */
    async query(
      tenantId: string,
      asker: AccessLogAsker,
      filter: AccessRowFilter,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<AccessLogPage> {
      if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > MAX_PAGE)
        throw new AppError('validation_failed', `The page limit must be between 1 and ${MAX_PAGE}.`);
      const after = page.cursor === undefined ? undefined : decodeKeysetCursor(page.cursor);
      return storage.withTenant(tenantId, async (tx) => {
        if (
          filter.dialogId !== undefined &&
          !(await accessLogStore.dialogExists(tx, tenantId, filter.dialogId))
        )
          throw new AppError('not_found');
        // Asking who read what is itself on record, with the question (ids and times only).
        await audit.append(tx, tenantId, {
          actor: asker.actor,
          action: 'access_log.read',
          outcome: 'success',
          ...asker.context,
          details: JSON.parse(JSON.stringify(filter)) as Record<string, string | number>,
        });
        const rows = await accessLogStore.query(tx, tenantId, filter, { after, limit: page.limit + 1 });
        const shown = rows.slice(0, page.limit);
        const last = shown.at(-1);
        const records = shown.map(present);
        return rows.length > page.limit && last
          ? { records, nextCursor: encodeKeysetCursor({ at: last.first_read_at, id: last.id }) }
          : { records };
      });
    },

    /**
     * Removes the records of batches whose chain entries were pruned (at most `throughSeq`). As the owner:
     * the application may only append to the access log, as to the audit log (dialects/postgres.ts).
     */
    prune: (tenantId: string, throughSeq: number) =>
      withAuditMaintenance(storage, tenantId, (tx) => accessLogStore.deleteThrough(tx, tenantId, throughSeq)),
  };
}

export type AccessLogService = ReturnType<typeof createAccessLogService>;

function present(row: AccessLogRow): AccessRecordView {
  return {
    id: row.id,
    kind: row.kind,
    reader: { type: row.reader_type, id: row.reader_id, sessionId: row.session_id },
    supportGrantId: row.grant_id,
    dialogId: row.dialog_id,
    seqRange: row.from_seq === null || row.to_seq === null ? null : { from: row.from_seq, to: row.to_seq },
    fileId: row.file_id,
    firstReadAt: new Date(row.first_read_at).toISOString(),
    lastReadAt: new Date(row.last_read_at).toISOString(),
    batchSeq: row.batch_seq,
  };
}
