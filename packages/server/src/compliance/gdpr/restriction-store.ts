import type { TenantTx } from '../../storage/database.ts';
import type { UserRestrictionsTable } from '../../storage/tables.ts';

export type RestrictionRow = UserRestrictionsTable;

/** Kysely queries for periods of restricted processing; every query is scoped to the transaction's tenant. */
export const restrictionStore = {
  async insert(tx: TenantTx, row: RestrictionRow): Promise<void> {
    await tx.insertInto('user_restrictions').values(row).execute();
  },

  /** The user's restriction in force (not lifted), if any. */
  async current(tx: TenantTx, tenantId: string, userId: string): Promise<RestrictionRow | undefined> {
    return tx
      .selectFrom('user_restrictions')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('lifted_at', 'is', null)
      .orderBy('restricted_at', 'desc')
      .executeTakeFirst();
  },

  async update(tx: TenantTx, tenantId: string, id: string, changes: Partial<RestrictionRow>): Promise<void> {
    await tx
      .updateTable('user_restrictions')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  },

  /** Every restriction of the user, newest first. */
  async history(tx: TenantTx, tenantId: string, userId: string): Promise<RestrictionRow[]> {
    return tx
      .selectFrom('user_restrictions')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .orderBy('restricted_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
  },
};
