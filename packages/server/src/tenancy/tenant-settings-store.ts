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
        conflict.column('tenant_id').doUpdateSet((eb) => ({
          signup_mode: eb.ref('excluded.signup_mode'),
          password_policy: eb.ref('excluded.password_policy'),
          access_token_ttl_seconds: eb.ref('excluded.access_token_ttl_seconds'),
          idle_timeout_seconds: eb.ref('excluded.idle_timeout_seconds'),
          refresh_token_ttl_seconds: eb.ref('excluded.refresh_token_ttl_seconds'),
          max_group_members: eb.ref('excluded.max_group_members'),
          max_message_bytes: eb.ref('excluded.max_message_bytes'),
          max_attachment_bytes: eb.ref('excluded.max_attachment_bytes'),
          edit_window_seconds: eb.ref('excluded.edit_window_seconds'),
          call_policy: eb.ref('excluded.call_policy'),
          export_others_messages: eb.ref('excluded.export_others_messages'),
          export_retention_days: eb.ref('excluded.export_retention_days'),
          access_logging: eb.ref('excluded.access_logging'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  },
};
