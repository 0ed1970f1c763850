import type { Storage } from '../../storage/database.ts';
import type { AuditLog, AuditVerification } from '../audit/audit-log.ts';
import { ACCESS_BATCH_ACTION, batchDigest } from './access-record.ts';
import { accessLogStore } from './access-log-store.ts';

/** Why the access log does not verify. */
export type AccessLogFailureReason =
  /** The audit chain itself is broken (an entry that chains a batch removed or altered, among others). */
  | 'audit_chain_broken'
  /** A batch's rows differ from what its chain entry recorded: a row altered, removed or added. */
  | 'batch_digest_mismatch'
  /** Rows that name a batch no chain entry records (and not one retention pruned). */
  | 'unchained_records';

export type AccessLogVerification =
  | { ok: true; batches: number; records: number; auditEntries: number }
  | {
      ok: false;
      reason: AccessLogFailureReason;
      /** The batch (its audit entry's seq) found bad; for a broken chain, the audit verification's. */
      batchSeq: number | null;
      audit: AuditVerification;
    };

/**
 * Verifies a tenant's access log: first its audit chain (audit/audit-verifier.ts: hash links, signed
 * checkpoints, prunes), which holds one `access_log.recorded` entry per batch; then every batch's rows
 * against the count and digest that entry recorded; then that no row names a batch the chain does not hold
 * (rows of batches retention pruned, below the chain's oldest entry, wait for `access_log.retention`).
 */
export async function verifyAccessLog(
  storage: Storage,
  audit: Pick<AuditLog, 'verify' | 'query'>,
  tenantId: string,
): Promise<AccessLogVerification> {
  const chain = await audit.verify(storage, tenantId);
  if (!chain.ok) return { ok: false, reason: 'audit_chain_broken', batchSeq: null, audit: chain };
  const chained = new Set<number>();
  let records = 0;
  let cursor: string | undefined;
  let oldest: number | undefined;
  do {
    const { bad, page } = await storage.withTenant(tenantId, async (tx) => {
      const page = await audit.query(
        tx,
        tenantId,
        { action: ACCESS_BATCH_ACTION },
        { cursor, limit: 200, order: 'asc' },
      );
      for (const entry of page.entries) {
        chained.add(entry.seq);
        const rows = await accessLogStore.batch(tx, tenantId, entry.seq);
        const recorded = entry.details as { records?: unknown; digest?: unknown };
        // PostgreSQL's bigint columns come back as numbers (dialects/postgres.ts), as they were hashed.
        const digest = batchDigest(rows);
        if (recorded.records !== rows.length || recorded.digest !== digest) return { bad: entry.seq, page };
        records += rows.length;
      }
      if (oldest === undefined) {
        const first = await audit.query(tx, tenantId, {}, { limit: 1, order: 'asc' });
        oldest = first.entries[0]?.seq ?? Number.POSITIVE_INFINITY;
      }
      return { bad: undefined, page };
    });
    if (bad !== undefined) return { ok: false, reason: 'batch_digest_mismatch', batchSeq: bad, audit: chain };
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  const stored = await storage.withTenant(tenantId, (tx) => accessLogStore.batchSeqs(tx, tenantId));
  const unchained = stored.find(
    ({ batch_seq }) => !chained.has(batch_seq) && batch_seq >= (oldest ?? Number.POSITIVE_INFINITY),
  );
  if (unchained)
    return { ok: false, reason: 'unchained_records', batchSeq: unchained.batch_seq, audit: chain };
  return { ok: true, batches: chained.size, records, auditEntries: chain.entries };
}
