import type { SystemTx, TenantTx } from '../storage/database.ts';
import type { TenantClosureStage, TenantClosuresTable } from '../storage/tables.ts';

export type TenantClosureRow = TenantClosuresTable;

/** Queries of `tenant_closures` (a system table: the record outlives the tenant) and the tenant's status. */
export const tenantCloseStore = {
  async insert(tx: SystemTx, row: TenantClosureRow): Promise<void> {
    await tx.insertInto('tenant_closures').values(row).execute();
  },

  /** The tenant's newest closure that is not reopened (there is at most one), locked on PostgreSQL. */
  async current(tx: SystemTx, tenantId: string, lock: boolean): Promise<TenantClosureRow | undefined> {
    let query = tx
      .selectFrom('tenant_closures')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('stage', '!=', 'reopened')
      .orderBy('closed_at', 'desc')
      .limit(1);
    if (lock) query = query.forUpdate();
    return query.executeTakeFirst();
  },

  async update(tx: SystemTx, id: string, changes: Partial<TenantClosureRow>): Promise<void> {
    await tx.updateTable('tenant_closures').set(changes).where('id', '=', id).execute();
  },

  async list(tx: SystemTx, stages: readonly TenantClosureStage[]): Promise<TenantClosureRow[]> {
    return tx
      .selectFrom('tenant_closures')
      .selectAll()
      .where('stage', 'in', [...stages])
      .orderBy('closed_at')
      .orderBy('id')
      .execute();
  },

  /** Closures whose purge is due or under way. */
  async due(tx: SystemTx, now: number): Promise<TenantClosureRow[]> {
    return tx
      .selectFrom('tenant_closures')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('stage', '=', 'purging'),
          eb.and([eb('stage', '=', 'closed'), eb('purge_after', '<=', now)]),
        ]),
      )
      .orderBy('purge_after')
      .execute();
  },

  async setTenantStatus(tx: SystemTx, tenantId: string, status: 'active' | 'closed' | 'purging') {
    await tx.updateTable('tenants').set({ status }).where('id', '=', tenantId).execute();
  },

  async tenantStatus(tx: TenantTx, tenantId: string): Promise<string | undefined> {
    const row = await tx.selectFrom('tenants').select('status').where('id', '=', tenantId).executeTakeFirst();
    return row?.status;
  },

  async tenantExists(tx: SystemTx, tenantId: string): Promise<boolean> {
    const row = await tx.selectFrom('tenants').select('id').where('id', '=', tenantId).executeTakeFirst();
    return row !== undefined;
  },

  /** The tenant's accounts that still have something to export (not erased). */
  async exportableUsers(tx: TenantTx, tenantId: string): Promise<string[]> {
    const rows = await tx
      .selectFrom('users')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('status', '!=', 'erased')
      .orderBy('id')
      .execute();
    return rows.map((row) => row.id);
  },

  /** The public half (SPKI DER, base64) of an audit signing key, shown with the certificates it signed. */
  async publicKey(tx: SystemTx, keyId: string): Promise<string> {
    const row = await tx
      .selectFrom('signing_keys')
      .select('public_key')
      .where('id', '=', keyId)
      .executeTakeFirstOrThrow();
    return row.public_key;
  },
};
