import { sql } from 'kysely';
import type { TenantTx } from '../../storage/database.ts';
import type { AuditCheckpointsTable, AuditHeadsTable, AuditLogTable } from '../../storage/tables.ts';
import { GENESIS_HASH } from './audit-entry.ts';

export type AuditRow = AuditLogTable;
export type AuditHeadRow = AuditHeadsTable;
export type AuditCheckpointRow = AuditCheckpointsTable;

/**
 * How a head read locks: `update` serializes appends (PostgreSQL), `share` holds appends off while a
 * verifier reads (PostgreSQL), `none` on SQLite, whose transactions are already serialized.
 */
export type HeadLock = 'update' | 'share' | 'none';

/** Column filters of an audit query; every one is optional and they combine with AND. */
export interface AuditRowFilter {
  actorId?: string | undefined;
  actorType?: string | undefined;
  /** Exact action, or every action that starts with `prefix` (which ends with a dot). */
  action?: { exact: string } | { prefix: string } | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  /** Inclusive lower bound of `occurred_at` (ms). */
  from?: number | undefined;
  /** Exclusive upper bound of `occurred_at` (ms). */
  to?: number | undefined;
}

export interface AuditRowPage {
  /** Keyset position: rows strictly after this seq in `order`. */
  afterSeq?: number | undefined;
  order: 'asc' | 'desc';
  limit: number;
}

/** Kysely queries for the audit chain; no rules here (those live in `AuditLog`). */
export const auditStore = {
  async readHead(tx: TenantTx, tenantId: string, lock: HeadLock): Promise<AuditHeadRow | undefined> {
    return tx
      .selectFrom('audit_heads')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .$if(lock === 'update', (query) => query.forUpdate())
      .$if(lock === 'share', (query) => query.forShare())
      .executeTakeFirst();
  },

  /** Creates the genesis head; a concurrent creator's row wins and this insert does nothing. */
  async createHead(tx: TenantTx, tenantId: string): Promise<void> {
    await tx
      .insertInto('audit_heads')
      .values({ tenant_id: tenantId, seq: 0, hash: GENESIS_HASH })
      .onConflict((conflict) => conflict.column('tenant_id').doNothing())
      .execute();
  },

  async updateHead(tx: TenantTx, head: AuditHeadRow): Promise<void> {
    await tx
      .updateTable('audit_heads')
      .set({ seq: head.seq, hash: head.hash })
      .where('tenant_id', '=', head.tenant_id)
      .execute();
  },

  async insertEntry(tx: TenantTx, row: AuditRow): Promise<void> {
    await tx.insertInto('audit_log').values(row).execute();
  },

  async insertCheckpoint(tx: TenantTx, row: AuditCheckpointRow): Promise<void> {
    await tx.insertInto('audit_checkpoints').values(row).execute();
  },

  /** The checkpoint with the highest seq, if any. */
  async lastCheckpoint(tx: TenantTx, tenantId: string): Promise<AuditCheckpointRow | undefined> {
    return tx
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
  },

  /** Up to `limit` entries with seq > `afterSeq`, in seq order. */
  async readEntriesAfter(
    tx: TenantTx,
    tenantId: string,
    afterSeq: number,
    limit: number,
  ): Promise<AuditRow[]> {
    return tx
      .selectFrom('audit_log')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('seq', '>', afterSeq)
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
  },

  /** Checkpoints with `afterSeq` < seq ≤ `upToSeq` (no upper bound when `upToSeq` is undefined), in order. */
  async readCheckpoints(
    tx: TenantTx,
    tenantId: string,
    afterSeq: number,
    upToSeq: number | undefined,
  ): Promise<AuditCheckpointRow[]> {
    return tx
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('seq', '>', afterSeq)
      .$if(upToSeq !== undefined, (query) => query.where('seq', '<=', upToSeq ?? 0))
      .orderBy('seq', 'asc')
      .execute();
  },

  async queryEntries(
    tx: TenantTx,
    tenantId: string,
    filter: AuditRowFilter,
    page: AuditRowPage,
  ): Promise<AuditRow[]> {
    const { action } = filter;
    let query = tx.selectFrom('audit_log').selectAll().where('tenant_id', '=', tenantId);
    if (filter.actorId !== undefined) query = query.where('actor_id', '=', filter.actorId);
    if (filter.actorType !== undefined) query = query.where('actor_type', '=', filter.actorType);
    if (filter.targetType !== undefined) query = query.where('target_type', '=', filter.targetType);
    if (filter.targetId !== undefined) query = query.where('target_id', '=', filter.targetId);
    if (filter.from !== undefined) query = query.where('occurred_at', '>=', filter.from);
    if (filter.to !== undefined) query = query.where('occurred_at', '<', filter.to);
    if (action !== undefined && 'exact' in action) query = query.where('action', '=', action.exact);
    if (action !== undefined && 'prefix' in action) {
      // substr rather than LIKE: `_` is a LIKE wildcard, and SQLite's LIKE ignores case.
      query = query.where(sql<string>`substr(action, 1, ${action.prefix.length})`, '=', action.prefix);
    }
    if (page.afterSeq !== undefined) {
      query = query.where('seq', page.order === 'asc' ? '>' : '<', page.afterSeq);
    }
    return query.orderBy('seq', page.order).limit(page.limit).execute();
  },
};
