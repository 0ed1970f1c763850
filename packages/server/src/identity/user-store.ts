import type { TenantTx } from '../storage/database.ts';
import type { DialectName } from '../storage/dialects/dialect-adapter.ts';
import type { KeysetPosition } from '../keyset-cursor.ts';
import type { UserStatus, UsersTable } from '../storage/tables.ts';

export type UserRow = UsersTable;

/** One page of a tenant's users, oldest first (creation time, then id: a total, stable order). */
export interface UserPageQuery {
  limit: number;
  /** Start after this user (the last one of the previous page). */
  after?: KeysetPosition | undefined;
  status?: UserStatus | undefined;
  /** Only users holding this role. */
  role?: string | undefined;
}

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

  async page(tx: TenantTx, tenantId: string, query: UserPageQuery): Promise<UserRow[]> {
    const { after, status, role } = query;
    return tx
      .selectFrom('users')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .$if(status !== undefined, (q) => q.where('status', '=', status as UserStatus))
      .$if(role !== undefined, (q) =>
        q.where('id', 'in', (sub) =>
          sub
            .selectFrom('user_roles')
            .select('user_id')
            .where('tenant_id', '=', tenantId)
            .where('role', '=', role as string),
        ),
      )
      .$if(after !== undefined, (q) =>
        q.where((eb) => {
          const position = after as KeysetPosition;
          return eb.or([
            eb('created_at', '>', position.at),
            eb.and([eb('created_at', '=', position.at), eb('id', '>', position.id)]),
          ]);
        }),
      )
      .orderBy('created_at')
      .orderBy('id')
      .limit(query.limit)
      .execute();
  },

  /** The role names of each of `userIds` (sorted); a user without roles is absent. */
  async rolesOfMany(
    tx: TenantTx,
    tenantId: string,
    userIds: readonly string[],
  ): Promise<Map<string, string[]>> {
    const roles = new Map<string, string[]>();
    if (userIds.length === 0) return roles;
    const rows = await tx
      .selectFrom('user_roles')
      .select(['user_id', 'role'])
      .where('tenant_id', '=', tenantId)
      .where('user_id', 'in', userIds)
      .orderBy('role')
      .execute();
    for (const row of rows) roles.set(row.user_id, [...(roles.get(row.user_id) ?? []), row.role]);
    return roles;
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
