import type { TenantTx } from '../../storage/database.ts';
import type { DialectName } from '../../storage/dialects/dialect-adapter.ts';
import type { SessionsTable, TenantSettingsTable } from '../../storage/tables.ts';

export type SessionRow = SessionsTable;

/** Kysely queries for sessions (refresh-token families), roles and the token settings of a tenant. */
export const sessionStore = {
  async insert(tx: TenantTx, row: SessionRow): Promise<void> {
    await tx.insertInto('sessions').values(row).execute();
  },

  async byAccessHash(tx: TenantTx, tenantId: string, hash: string): Promise<SessionRow | undefined> {
    return tx
      .selectFrom('sessions')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('access_token_hash', '=', hash)
      .executeTakeFirst();
  },

  /** With a dialect, the row is locked until the transaction ends on PostgreSQL (refresh rotation). */
  async byRefreshHash(
    tx: TenantTx,
    tenantId: string,
    hash: string,
    lockOn?: DialectName,
  ): Promise<SessionRow | undefined> {
    return tx
      .selectFrom('sessions')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('refresh_token_hash', '=', hash)
      .$if(lockOn === 'postgres', (query) => query.forUpdate())
      .executeTakeFirst();
  },

  /** Ends a session unless it already ended; true when this call ended it. */
  async revokeIfActive(
    tx: TenantTx,
    tenantId: string,
    sessionId: string,
    at: number,
    reason: string,
  ): Promise<boolean> {
    const rows = await tx
      .updateTable('sessions')
      .set({ revoked_at: at, revoked_reason: reason })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .returning('id')
      .execute();
    return rows.length > 0;
  },

  async usedRefresh(tx: TenantTx, tenantId: string, hash: string): Promise<string | undefined> {
    const row = await tx
      .selectFrom('used_refresh_tokens')
      .select('session_id')
      .where('tenant_id', '=', tenantId)
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    return row?.session_id;
  },

  async markRefreshUsed(tx: TenantTx, tenantId: string, hash: string, sessionId: string, at: number) {
    await tx
      .insertInto('used_refresh_tokens')
      .values({ token_hash: hash, tenant_id: tenantId, session_id: sessionId, used_at: at })
      .execute();
  },

  async update(
    tx: TenantTx,
    tenantId: string,
    sessionId: string,
    changes: Partial<SessionRow>,
  ): Promise<void> {
    await tx
      .updateTable('sessions')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', sessionId)
      .execute();
  },

  async revokeForUser(
    tx: TenantTx,
    tenantId: string,
    userId: string,
    at: number,
    reason: string,
    except?: string,
  ) {
    let query = tx
      .updateTable('sessions')
      .set({ revoked_at: at, revoked_reason: reason })
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null);
    if (except !== undefined) query = query.where('id', '!=', except);
    const rows = await query.returning('id').execute();
    return rows.map((row) => row.id);
  },

  /** Ends every live session of an OAuth client (its secret rotated or the client deleted). */
  async revokeForClient(tx: TenantTx, tenantId: string, clientId: string, at: number, reason: string) {
    const rows = await tx
      .updateTable('sessions')
      .set({ revoked_at: at, revoked_reason: reason })
      .where('tenant_id', '=', tenantId)
      .where('client_id', '=', clientId)
      .where('user_id', 'is', null)
      .where('revoked_at', 'is', null)
      .returning('id')
      .execute();
    return rows.map((row) => row.id);
  },

  async activeForUser(tx: TenantTx, tenantId: string, userId: string, now: number): Promise<SessionRow[]> {
    return tx
      .selectFrom('sessions')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('refresh_expires_at', '>', now), eb('access_expires_at', '>', now)]))
      .orderBy('last_used_at', 'desc')
      .execute();
  },

  async customRoles(tx: TenantTx, tenantId: string): Promise<{ name: string; permissions: string }[]> {
    return tx.selectFrom('roles').select(['name', 'permissions']).where('tenant_id', '=', tenantId).execute();
  },

  async settings(tx: TenantTx, tenantId: string): Promise<TenantSettingsTable | undefined> {
    return tx.selectFrom('tenant_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
  },
};
