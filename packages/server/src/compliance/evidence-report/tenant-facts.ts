import { loadPasswordPolicy } from '../../identity/passwords/tenant-policy.ts';
import type { TenantTx } from '../../storage/database.ts';
import { evidenceStore } from './evidence-store.ts';
import { DAY_MS } from './evidence-verdict.ts';

/** How far back closed requests and grants are shown. */
export const LOOKBACK_MS = 365 * DAY_MS;

/**
 * One tenant's state, read in one tenant transaction (counts, times and ids only), before the report reads
 * anything else: transactions are never nested (SQLite has one connection).
 */
export async function readTenantFacts(tx: TenantTx, tenantId: string, now: number) {
  const tenant = await evidenceStore.tenant(tx, tenantId);
  if (!tenant) return undefined;
  return {
    tenant,
    keys: await evidenceStore.tenantKeys(tx, tenantId),
    accounts: await evidenceStore.accounts(tx, tenantId),
    roleHolders: await evidenceStore.roleHolders(tx, tenantId),
    customRoles: await evidenceStore.customRoles(tx, tenantId),
    passwordPolicy: await loadPasswordPolicy(tx, tenantId),
    lastSweep: await evidenceStore.lastSweeps(tx, tenantId),
    dialogOverrides: await evidenceStore.dialogOverrides(tx, tenantId),
    requiredPurposes: await evidenceStore.requiredPurposes(tx, tenantId),
    activePurposes: await evidenceStore.activePurposes(tx, tenantId),
    grantedStates: await evidenceStore.grantedStates(tx, tenantId),
    requests: await evidenceStore.requests(tx, tenantId, now - LOOKBACK_MS),
    supportPolicy: await evidenceStore.supportPolicy(tx, tenantId),
    supportGrants: await evidenceStore.supportGrants(tx, tenantId, now - LOOKBACK_MS),
    incidentIds: await evidenceStore.incidentIds(tx, tenantId),
  };
}

export type TenantFacts = NonNullable<Awaited<ReturnType<typeof readTenantFacts>>>;
