import type { TenantTx } from '../../storage/database.ts';
import { tenantSettingsStore } from '../../tenancy/tenant-settings-store.ts';
import { DEFAULT_PASSWORD_POLICY, type PasswordPolicy, passwordPolicySchema } from './password-policy.ts';

/** The tenant's password policy, defaults filled in (a stored policy may predate newer keys). */
export async function loadPasswordPolicy(tx: TenantTx, tenantId: string): Promise<PasswordPolicy> {
  const row = await tenantSettingsStore.get(tx, tenantId);
  if (!row) return DEFAULT_PASSWORD_POLICY;
  return passwordPolicySchema.parse(JSON.parse(row.password_policy));
}
