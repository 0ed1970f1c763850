import type { TenantTx } from '../../storage/database.ts';
import { consentGrantStore } from './consent-grant-store.ts';

/**
 * Whether a user owes acceptance of the current version of some required, active purpose. The session
 * service asks this for every principal it builds (and at sign-in and refresh): while it is true, the
 * user's tokens act as `profile`-only tokens and every other route answers `consent_required`.
 */
export async function owesRequiredConsent(tx: TenantTx, tenantId: string, userId: string): Promise<boolean> {
  return (await consentGrantStore.owedRequired(tx, tenantId, userId)).length > 0;
}
