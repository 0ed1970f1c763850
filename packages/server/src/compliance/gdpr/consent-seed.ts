import type { TenantTx } from '../../storage/database.ts';
import { purposeTextHash, SERVICE_PURPOSE } from './consent-defaults.ts';
import { consentPurposeStore } from './consent-purpose-store.ts';

/**
 * Gives a new tenant its `service` purpose, in the transaction that creates the tenant: from its first
 * sign-up on, there is something to accept. Tenants created before consent existed got it in migration 0017.
 */
export async function seedConsentPurposes(tx: TenantTx, tenantId: string, now: number): Promise<void> {
  await consentPurposeStore.insert(tx, {
    tenant_id: tenantId,
    key: SERVICE_PURPOSE.key,
    version: 1,
    title: SERVICE_PURPOSE.title,
    text: SERVICE_PURPOSE.text,
    text_hash: purposeTextHash(SERVICE_PURPOSE.text),
    lawful_basis: SERVICE_PURPOSE.lawfulBasis,
    required: 1,
    active: 1,
    created_at: now,
    updated_at: now,
    superseded_at: null,
  });
}
