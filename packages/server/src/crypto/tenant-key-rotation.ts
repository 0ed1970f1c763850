import { type AuditInput, SYSTEM_TENANT_ID } from '../compliance/audit/audit-entry.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import type { RequestContext } from '../compliance/audit/request-context.ts';
import type { Storage } from '../storage/database.ts';
import type { Keyring } from './keyring.ts';

/** Where a tenant's data-key rotation stands after asking for one. */
export interface TenantKeyRotation {
  /** The data-key version new writes use. */
  dataKeyVersion: number;
  /** User keys are still being re-wrapped onto it (the background re-encryption; `parley keys reencrypt`). */
  rotationPending: boolean;
  /** False when a rotation was already pending: nothing new was started. */
  started: boolean;
}

/** Who asked (a user, or an API client with the permission) and the request, for the audit entry. */
export interface TenantKeyRotationActor {
  actor: AuditInput['actor'];
  context: RequestContext;
}

/**
 * A tenant owner's "rotate this tenant's data key", the tenant-facing twin of `parley keys rotate-data-key`:
 * a new data-key version for new writes at once, the user keys re-wrapped by the background job. Idempotent
 * while a rotation is pending: the pending flag is claimed by one conditional update, so two owners (or two
 * clicks) asking at once start one rotation, and asking again before the re-wrap ended starts none. Audited
 * on the tenant's chain and on the system chain (key events of every tenant are the operator's to see).
 */
export function createTenantKeyRotation(deps: {
  storage: Storage;
  keyring: Keyring;
  audit: Pick<AuditLog, 'append'>;
}) {
  const { storage, keyring, audit } = deps;
  return {
    async rotate(tenantId: string, { actor, context }: TenantKeyRotationActor): Promise<TenantKeyRotation> {
      return storage.withSystem(async (system) => {
        const claimed = await system
          .updateTable('tenants')
          .set({ key_rotation_pending: 1 })
          .where('id', '=', tenantId)
          .where('key_rotation_pending', '=', 0)
          .executeTakeFirst();
        const tx = await storage.enterTenant(system, tenantId);
        if (Number(claimed.numUpdatedRows) === 0) {
          const active = await keyring.tenantKey(tx, tenantId, 'data');
          return { dataKeyVersion: active.version, rotationPending: true, started: false };
        }
        const version = await keyring.rotateTenantDataKey(tx, tenantId);
        const entry: AuditInput = {
          actor,
          action: 'keys.data_key_rotated',
          target: { type: 'tenant', id: tenantId },
          outcome: 'success',
          details: { dataKeyVersion: version },
        };
        await audit.append(tx, tenantId, { ...entry, ...context });
        await audit.append(await storage.enterTenant(system, SYSTEM_TENANT_ID), SYSTEM_TENANT_ID, entry);
        return { dataKeyVersion: version, rotationPending: true, started: true };
      });
    },
  };
}

export type TenantKeyRotationService = ReturnType<typeof createTenantKeyRotation>;
