import type { SystemTx, TenantTx } from '../storage/database.ts';
import type { TenantsTable } from '../storage/tables.ts';

export type TenantRow = TenantsTable;

export interface SetupTokenRow {
  id: string;
  tenant_id: string;
  token_hash: string;
  expires_at: number;
  created_at: number;
}

export const tenantStore = {
  async insertTenant(tx: SystemTx, row: TenantRow): Promise<void> {
    await tx.insertInto('tenants').values(row).execute();
  },

  async listTenants(tx: SystemTx): Promise<TenantRow[]> {
    return tx.selectFrom('tenants').selectAll().orderBy('created_at').orderBy('id').execute();
  },

  async findTenant(tx: TenantTx, tenantId: string): Promise<TenantRow | undefined> {
    return tx.selectFrom('tenants').selectAll().where('id', '=', tenantId).executeTakeFirst();
  },

  async insertSetupToken(tx: TenantTx, row: SetupTokenRow): Promise<void> {
    await tx
      .insertInto('tenant_setup_tokens')
      .values({ ...row, used_at: null })
      .execute();
  },
};
