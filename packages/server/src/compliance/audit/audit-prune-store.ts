import { sql } from 'kysely';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { AuditPrunesTable } from '../../storage/tables.ts';

export type AuditPruneRow = AuditPrunesTable;

/**
 * Kysely queries for audit retention (pruning) and minimisation; no rules here (those live in
 * `audit-pruner.ts` and `audit-minimiser.ts`).
 */
export const auditPruneStore = {
  /** The newest "pruned up to" record of a chain, if it was ever pruned. */
  async lastPrune(tx: TenantTx, tenantId: string): Promise<AuditPruneRow | undefined> {
    return tx
      .selectFrom('audit_prunes')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
  },

  async insertPrune(tx: TenantTx, row: AuditPruneRow): Promise<void> {
    await tx
      .insertInto('audit_prunes')
      .values(row)
      .onConflict((conflict) => conflict.columns(['tenant_id', 'seq']).doNothing())
      .execute();
  },

  /**
   * The newest checkpoint at or before `maxSeq` such that no entry after `afterSeq` up to it occurred at or
   * after `olderThan`: the end of the longest whole signed segment entirely past the cut-off.
   */
  async pruneBoundary(
    tx: TenantTx,
    tenantId: string,
    afterSeq: number,
    olderThan: number,
  ): Promise<{ seq: number; hash: string } | undefined> {
    // The first entry that must stay bounds the segment; entries are usually in time order, but a clock
    // stepped back must not let a young entry go.
    const firstYoung = await tx
      .selectFrom('audit_log')
      .select(sql<number | null>`min(seq)`.as('seq'))
      .where('tenant_id', '=', tenantId)
      .where('seq', '>', afterSeq)
      .where('occurred_at', '>=', olderThan)
      .executeTakeFirst();
    return tx
      .selectFrom('audit_checkpoints')
      .select(['seq', 'hash'])
      .where('tenant_id', '=', tenantId)
      .where('seq', '>', afterSeq)
      .$if(firstYoung?.seq != null, (query) => query.where('seq', '<', Number(firstYoung?.seq)))
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
  },

  /**
   * Deletes up to `limit` entries with seq ≤ `upToSeq`, oldest first, and the checkpoints before `upToSeq`
   * they leave behind (the one at `upToSeq` stays: the anchors name it). Answers how many entries went.
   */
  async deleteSegment(tx: TenantTx, tenantId: string, upToSeq: number, limit: number): Promise<number> {
    const rows = await tx
      .selectFrom('audit_log')
      .select('seq')
      .where('tenant_id', '=', tenantId)
      .where('seq', '<=', upToSeq)
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
    const last = rows.at(-1)?.seq;
    if (last === undefined) return 0;
    await tx.deleteFrom('audit_log').where('tenant_id', '=', tenantId).where('seq', '<=', last).execute();
    await tx
      .deleteFrom('audit_checkpoints')
      .where('tenant_id', '=', tenantId)
      .where('seq', '<', Math.min(last + 1, upToSeq))
      .execute();
    return rows.length;
  },
};

/**
 * Runs `work` as the database's owner (the maintenance connection) bound to one tenant. The application role
 * may only append to the audit tables (docs/security.md), so retention and minimisation, which delete and
 * rewrite audit rows, run here; `app.tenant_id` keeps PostgreSQL's row-level security (and every query's
 * `tenant_id` filter) on that one tenant. SQLite has neither roles nor row-level security.
 */
export async function withAuditMaintenance<T>(
  storage: Storage,
  tenantId: string,
  work: (tx: TenantTx) => Promise<T>,
): Promise<T> {
  return storage.withSystem(async (tx) => {
    if (storage.dialect === 'postgres')
      await sql`select set_config('app.tenant_id', ${tenantId}, true)`.execute(tx);
    // The owner's transaction filtered to one tenant: what a tenant transaction may read, plus the right to
    // delete and update audit rows.
    return work(tx as unknown as TenantTx);
  });
}
