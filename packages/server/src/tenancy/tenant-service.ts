import { z } from 'zod';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import { type AuditInput, SYSTEM_TENANT_ID } from '../compliance/audit/audit-entry.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import { seedConsentPurposes } from '../compliance/gdpr/consent-seed.ts';
import { hashToken, mintToken } from '../crypto/token.ts';
import { newId } from '../ids.ts';
import type { Storage } from '../storage/database.ts';
import { tenantStore } from './tenant-store.ts';

export const tenantName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .refine((name) => !/\p{Cc}/u.test(name), 'must not contain control characters');

export interface CreatedTenant {
  tenantId: string;
  name: string;
  createdAt: string;
  /** Shown once; only its hash is stored. Lets the first owner claim the tenant. */
  ownerSetupToken: string;
  ownerSetupTokenExpiresAt: string;
  /**
   * Set when the new chain could not be pinned outside the database right away (anchor file locked or
   * damaged): the tenant exists and its setup token is valid; the checkpoint job anchors it on a later pass.
   */
  anchorError?: string;
}

export interface TenantSummary {
  tenantId: string;
  name: string;
  status: string;
  createdAt: string;
}

export interface TenantServiceDeps {
  storage: Storage;
  clock: Clock;
  audit: AuditLog;
  setupTokenTtlSeconds: number;
}

export function createTenantService({ storage, clock, audit, setupTokenTtlSeconds }: TenantServiceDeps) {
  return {
    /** Creates the tenant and its one-time owner setup token in one transaction. */
    async createTenant(name: string, actor: AuditInput['actor'] = { type: 'staff' }): Promise<CreatedTenant> {
      const parsed = tenantName.safeParse(name);
      if (!parsed.success) {
        throw new AppError(
          'validation_failed',
          `Tenant name ${parsed.error.issues[0]?.message ?? 'is invalid'}.`,
        );
      }
      const now = clock.now();
      const tenantId = newId();
      const token = mintToken('setup');
      const expiresAt = now + setupTokenTtlSeconds * 1000;
      await storage.withSystem(async (tx) => {
        await tenantStore.insertTenant(tx, {
          id: tenantId,
          name: parsed.data,
          status: 'active',
          created_at: now,
        });
        const tenantTx = await storage.enterTenant(tx, tenantId);
        await tenantStore.insertSetupToken(tenantTx, {
          id: newId(),
          tenant_id: tenantId,
          token_hash: hashToken(token),
          expires_at: expiresAt,
          created_at: now,
        });
        // The `service` purpose exists before anyone can sign up: there is always something to accept.
        await seedConsentPurposes(tenantTx, tenantId, now);
        // The tenant's own chain starts here: every tenant has one, so a tenant without it was deleted.
        await audit.append(tenantTx, tenantId, {
          actor,
          action: 'tenant.created',
          target: { type: 'tenant', id: tenantId },
          outcome: 'success',
        });
        // Operators create tenants: the record also goes on the system chain, in the same transaction.
        const systemTx = await storage.enterTenant(tx, SYSTEM_TENANT_ID);
        await audit.append(systemTx, SYSTEM_TENANT_ID, {
          actor,
          action: 'tenant.created',
          target: { type: 'tenant', id: tenantId },
          outcome: 'success',
        });
      });
      // Pinned outside the database at once, after commit: from now on, rewriting the new chain from its
      // start or deleting it shows in `parley audit verify`.
      // The tenant is committed by now: a failure here must not hide its one-time setup token.
      const anchorError = await audit.sealAndAnchor(storage, [tenantId, SYSTEM_TENANT_ID]).then(
        () => undefined,
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      return {
        ...(anchorError === undefined ? {} : { anchorError }),
        tenantId,
        name: parsed.data,
        createdAt: new Date(now).toISOString(),
        ownerSetupToken: token,
        ownerSetupTokenExpiresAt: new Date(expiresAt).toISOString(),
      };
    },

    async listTenants(): Promise<TenantSummary[]> {
      const rows = await storage.withSystem((tx) => tenantStore.listTenants(tx));
      return rows.map((row) => ({
        tenantId: row.id,
        name: row.name,
        status: row.status,
        createdAt: new Date(row.created_at).toISOString(),
      }));
    },
  };
}

export type TenantService = ReturnType<typeof createTenantService>;
