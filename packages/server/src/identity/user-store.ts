import type { TenantTx } from '../storage/database.ts';
import type { UsersTable } from '../storage/tables.ts';

export type UserRow = UsersTable;

/** Kysely queries for users; every query is scoped to the transaction's tenant. */
export const userStore = {
  async insert(tx: TenantTx, row: UserRow): Promise<void> {
    await tx.insertInto('users').values(row).execute();
  },

  async findById(tx: TenantTx, tenantId: string, userId: string): Promise<UserRow | undefined> {
    return tx
      .selectFrom('users')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', userId)
      .executeTakeFirst();
  },

  async findByEmailIndex(tx: TenantTx, tenantId: string, emailIndex: string): Promise<UserRow | undefined> {
    return tx
      .selectFrom('users')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('email_index', '=', emailIndex)
      .executeTakeFirst();
  },

  async update(tx: TenantTx, tenantId: string, userId: string, changes: Partial<UserRow>): Promise<void> {
    await tx
      .updateTable('users')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', userId)
      .execute();
  },
};
