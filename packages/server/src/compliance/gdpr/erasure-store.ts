import {
  DEFAULT_ERASURE_GRACE_DAYS,
  type ErasureMessagePolicy,
  type ErasureSettings,
} from '@parley/protocol';
import type { TenantTx } from '../../storage/database.ts';
import type { DialectName } from '../../storage/dialects/dialect-adapter.ts';
import type { ErasuresTable } from '../../storage/tables.ts';

export type ErasureRow = ErasuresTable;

/** Kysely queries for erasures and the tenant's erasure settings; every query names the tenant. */
export const erasureStore = {
  async insert(tx: TenantTx, row: ErasureRow): Promise<void> {
    await tx.insertInto('erasures').values(row).execute();
  },

  async find(tx: TenantTx, tenantId: string, id: string): Promise<ErasureRow | undefined> {
    return tx
      .selectFrom('erasures')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
  },

  /** The erasure row, locked until the transaction ends (PostgreSQL; SQLite serialises writers). */
  async lock(
    tx: TenantTx,
    tenantId: string,
    id: string,
    dialect: DialectName,
  ): Promise<ErasureRow | undefined> {
    return tx
      .selectFrom('erasures')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .$if(dialect === 'postgres', (query) => query.forUpdate())
      .executeTakeFirst();
  },

  /** The user's newest erasure, of any status. */
  async latestOf(tx: TenantTx, tenantId: string, userId: string): Promise<ErasureRow | undefined> {
    return tx
      .selectFrom('erasures')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .orderBy('requested_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
  },

  /** The user's erasure that is scheduled, running or done: at most one exists. */
  async activeOf(tx: TenantTx, tenantId: string, userId: string): Promise<ErasureRow | undefined> {
    return tx
      .selectFrom('erasures')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('status', '!=', 'cancelled')
      .orderBy('requested_at', 'desc')
      .limit(1)
      .executeTakeFirst();
  },

  /** Erasures that started (running or completed), oldest first: what every node's register must hold. */
  async started(tx: TenantTx, tenantId: string): Promise<ErasureRow[]> {
    return tx
      .selectFrom('erasures')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('status', 'in', ['running', 'completed'])
      .orderBy('requested_at')
      .execute();
  },

  async update(tx: TenantTx, tenantId: string, id: string, changes: Partial<ErasureRow>): Promise<void> {
    await tx
      .updateTable('erasures')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  },

  /** Owners of the tenant other than `userId` whose accounts are not erased. */
  async otherOwnerCount(tx: TenantTx, tenantId: string, userId: string): Promise<number> {
    const row = await tx
      .selectFrom('user_roles as r')
      .innerJoin('users as u', (join) =>
        join.onRef('u.id', '=', 'r.user_id').onRef('u.tenant_id', '=', 'r.tenant_id'),
      )
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('r.tenant_id', '=', tenantId)
      .where('r.role', '=', 'owner')
      .where('r.user_id', '!=', userId)
      .where('u.status', '!=', 'erased')
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  },

  async settings(tx: TenantTx, tenantId: string): Promise<ErasureSettings> {
    const row = await tx
      .selectFrom('tenant_settings')
      .select(['erasure_grace_days', 'erasure_message_policy'])
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    return {
      graceDays: row?.erasure_grace_days ?? DEFAULT_ERASURE_GRACE_DAYS,
      messagePolicy: row?.erasure_message_policy ?? 'erase',
    };
  },

  /** Writes the erasure settings; a tenant without a settings row gets one with every other default. */
  async saveSettings(
    tx: TenantTx,
    tenantId: string,
    settings: { graceDays: number; messagePolicy: ErasureMessagePolicy },
    now: number,
  ): Promise<void> {
    await tx
      .insertInto('tenant_settings')
      .values({
        tenant_id: tenantId,
        signup_mode: 'admin_created',
        password_policy: '{}',
        access_token_ttl_seconds: 3600,
        idle_timeout_seconds: 900,
        refresh_token_ttl_seconds: 2_592_000,
        erasure_grace_days: settings.graceDays,
        erasure_message_policy: settings.messagePolicy,
        updated_at: now,
      })
      .onConflict((conflict) =>
        conflict.column('tenant_id').doUpdateSet({
          erasure_grace_days: settings.graceDays,
          erasure_message_policy: settings.messagePolicy,
          updated_at: now,
        }),
      )
      .execute();
  },
};
