import type { SystemTx, TenantTx } from '../../storage/database.ts';
import type { SupportGrantsTable } from '../../storage/tables.ts';

export type SupportGrantRow = SupportGrantsTable;

/** Kysely queries for support access grants and the tenant's support policy. */
export const supportGrantStore = {
  async insert(tx: TenantTx, row: SupportGrantRow): Promise<void> {
    await tx.insertInto('support_grants').values(row).execute();
  },

  async byId(tx: TenantTx, tenantId: string, id: string): Promise<SupportGrantRow | undefined> {
    return tx
      .selectFrom('support_grants')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
  },

  /** A grant found by id alone, for its staff member: which tenant it belongs to is what this tells. */
  async byIdForStaff(tx: SystemTx, id: string, staffId: string): Promise<SupportGrantRow | undefined> {
    return tx
      .selectFrom('support_grants')
      .selectAll()
      .where('id', '=', id)
      .where('staff_id', '=', staffId)
      .executeTakeFirst();
  },

  async listForTenant(tx: TenantTx, tenantId: string): Promise<SupportGrantRow[]> {
    return tx
      .selectFrom('support_grants')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('requested_at', 'desc')
      .orderBy('id', 'desc')
      .limit(500)
      .execute();
  },

  async listForStaff(tx: SystemTx, staffId: string): Promise<SupportGrantRow[]> {
    return tx
      .selectFrom('support_grants')
      .selectAll()
      .where('staff_id', '=', staffId)
      .orderBy('requested_at', 'desc')
      .orderBy('id', 'desc')
      .limit(500)
      .execute();
  },

  /** Moves a grant on from `from` only: a second decision (a replayed approval) changes nothing. */
  async transition(
    tx: TenantTx,
    tenantId: string,
    id: string,
    from: readonly SupportGrantRow['status'][],
    change: Partial<SupportGrantRow>,
  ): Promise<boolean> {
    const result = await tx
      .updateTable('support_grants')
      .set(change)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('status', 'in', from)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  },

  async allowed(tx: TenantTx | SystemTx, tenantId: string): Promise<boolean> {
    const row = await tx
      .selectFrom('support_policies')
      .select('allowed')
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    return row === undefined || row.allowed === 1;
  },

  async setAllowed(tx: TenantTx, tenantId: string, allowed: boolean, by: string, now: number): Promise<void> {
    const values = { allowed: allowed ? 1 : 0, updated_by: by, updated_at: now };
    await tx
      .insertInto('support_policies')
      .values({ tenant_id: tenantId, ...values })
      .onConflict((conflict) => conflict.column('tenant_id').doUpdateSet(values))
      .execute();
  },
};
