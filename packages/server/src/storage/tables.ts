/**
 * Row shapes of every table, as Kysely sees them. Times are milliseconds since the Unix epoch (UTC) in a
 * BIGINT column on both dialects, so ordering and arithmetic are the same everywhere.
 */
export interface Database {
  tenants: TenantsTable;
  tenant_setup_tokens: TenantSetupTokensTable;
}

export interface TenantsTable {
  id: string;
  name: string;
  status: 'active' | 'suspended';
  created_at: number;
}

export interface TenantSetupTokensTable {
  id: string;
  tenant_id: string;
  token_hash: string;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

/**
 * Every table whose rows belong to one tenant. Each has a `tenant_id` column and, on PostgreSQL, a forced
 * row-level security policy; a test checks this list against the live schema.
 */
export const tenantOwnedTables = ['tenant_setup_tokens'] as const satisfies readonly (keyof Database)[];
