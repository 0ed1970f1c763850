import type { TenantTx } from '../storage/database.ts';
import type { TenantSettingsTable } from '../storage/tables.ts';

export type TenantSettingsRow = TenantSettingsTable;

export const tenantSettingsStore = {
  async get(tx: TenantTx, tenantId: string): Promise<TenantSettingsRow | undefined> {
    return tx.selectFrom('tenant_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
  },

  async upsert(tx: TenantTx, row: TenantSettingsRow): Promise<void> {
    await tx
      .insertInto('tenant_settings')
      .values(row)
      .onConflict((conflict) =>
        conflict.column('tenant_id').doUpdateSet({
          signup_mode: row.signup_mode,
          password_policy: row.password_policy,
          access_token_ttl_seconds: row.access_token_ttl_seconds,
          idle_timeout_seconds: row.idle_timeout_seconds,
          refresh_token_ttl_seconds: row.refresh_token_ttl_seconds,
          updated_at: row.updated_at,
        }),
      )
      .execute();
  },
};
