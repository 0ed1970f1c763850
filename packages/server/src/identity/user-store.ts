import type { TenantTx } from '../storage/database.ts';
import type { DialectName } from '../storage/dialects/dialect-adapter.ts';
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

  /**
   * Reads the user row locked until the transaction ends on PostgreSQL (SQLite serialises transactions
   * already). Anything that reads failure counts, lock state or one-time codes and then writes them back
   * must use this, or parallel requests all pass on the same stale state.
   */
  async lockById(
    tx: TenantTx,
    tenantId: string,
    userId: string,
    dialect: DialectName,
  ): Promise<UserRow | undefined> {
    return tx
      .selectFrom('users')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', userId)
      .$if(dialect === 'postgres', (query) => query.forUpdate())
      .executeTakeFirst();
  },

  /** The user's role names, sorted. */
  async roles(tx: TenantTx, tenantId: string, userId: string): Promise<string[]> {
    const rows = await tx
      .selectFrom('user_roles')
      .select('role')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .orderBy('role')
      .execute();
    return rows.map((row) => row.role);
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
