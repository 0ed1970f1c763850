import type { CreatePurposeBody, UpdatePurposeBody } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { AuditInput } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/request-context.ts';
import type { Storage } from '../../storage/database.ts';
import { purposeTextHash } from './consent-defaults.ts';
import { consentGrantStore } from './consent-grant-store.ts';
import { consentPurposeStore, type PurposeRow } from './consent-purpose-store.ts';

export interface ConsentPurposeServiceDeps {
  storage: Storage;
  audit: AuditLog;
  clock: Clock;
  /** Rebuilds every cached principal of a tenant: who owes consent may have changed for anyone. */
  refreshTenantPrincipals: (tenantId: string) => Promise<void>;
}

/** Where a purpose's current version stands among the tenant's active users. */
export interface PurposeCoverage {
  purpose: PurposeRow;
  activeUsers: number;
  granted: number;
  outdated: number;
  withdrawn: number;
  none: number;
}

/** Whether a purpose in this shape can make someone owe consent (so principals must be rebuilt). */
const gates = (row: Pick<PurposeRow, 'required' | 'active'>) => row.required === 1 && row.active === 1;

/**
 * A tenant's processing purposes as admins manage them: publishing, new versions, retiring, coverage. A
 * change of title, text or lawful basis publishes a new version (the old one stays, superseded, because
 * ledger rows name it); `required` and `active` change in place. Every change is audited with ids, version
 * and text hash, never the text.
 */
export function createConsentPurposeService(deps: ConsentPurposeServiceDeps) {
  const { storage, audit, clock } = deps;

  const auditChange = (
    action: 'consent.purpose_created' | 'consent.purpose_updated',
    row: PurposeRow,
    actor: AuditInput['actor'],
    context: RequestContext,
    extra: Record<string, number | boolean> = {},
  ): AuditInput => ({
    actor,
    action,
    target: { type: 'consent_purpose', id: row.key },
    outcome: 'success',
    ...context,
    details: {
      key: row.key,
      version: row.version,
      textHash: row.text_hash,
      lawfulBasis: row.lawful_basis,
      required: row.required === 1,
      active: row.active === 1,
      ...extra,
    },
  });

  return {
    /** What a sign-up form shows: the active purposes' current versions. Unknown tenants have none. */
    async published(tenantId: string): Promise<PurposeRow[]> {
      return storage.withTenant(tenantId, (tx) =>
        consentPurposeStore.current(tx, tenantId, { activeOnly: true }),
      );
    },

    /** Every purpose's current version, inactive ones included. */
    async list(tenantId: string): Promise<PurposeRow[]> {
      return storage.withTenant(tenantId, (tx) => consentPurposeStore.current(tx, tenantId));
    },

    /** Every version of one purpose, oldest first: the words each ledger row refers to. */
    async versions(tenantId: string, key: string): Promise<PurposeRow[]> {
      const rows = await storage.withTenant(tenantId, (tx) =>
        consentPurposeStore.versions(tx, tenantId, key),
      );
      if (rows.length === 0) throw new AppError('not_found');
      return rows;
    },

    async create(
      tenantId: string,
      body: CreatePurposeBody & { required: boolean; active: boolean },
      actor: AuditInput['actor'],
      context: RequestContext,
    ): Promise<PurposeRow> {
      const now = clock.now();
      const row: PurposeRow = {
        tenant_id: tenantId,
        key: body.key,
        version: 1,
        title: body.title,
        text: body.text,
        text_hash: purposeTextHash(body.text),
        lawful_basis: body.lawfulBasis,
        required: body.required ? 1 : 0,
        active: body.active ? 1 : 0,
        created_at: now,
        updated_at: now,
        superseded_at: null,
      };
      await storage.withTenant(tenantId, async (tx) => {
        if (!(await consentPurposeStore.insert(tx, row)))
          throw new AppError('conflict', `A purpose with the key ${body.key} exists already.`);
        await audit.append(tx, tenantId, auditChange('consent.purpose_created', row, actor, context));
      });
      if (gates(row)) await deps.refreshTenantPrincipals(tenantId);
      return row;
    },

    /**
     * Changes a purpose. New wording (title, text or lawful basis) publishes version n + 1, which nobody has
     * granted yet: if the purpose is required, every user owes it from the moment this returns.
     */
    async update(
      tenantId: string,
      key: string,
      patch: UpdatePurposeBody,
      actor: AuditInput['actor'],
      context: RequestContext,
    ): Promise<PurposeRow> {
      const { before, after } = await storage.withTenant(tenantId, async (tx) => {
        if (!(await consentPurposeStore.lock(tx, tenantId, key, storage.dialect)))
          throw new AppError('not_found');
        const current = await consentPurposeStore.currentOf(tx, tenantId, key);
        if (!current) throw new AppError('not_found');
        const now = clock.now();
        const changed: PurposeRow = {
          ...current,
          title: patch.title ?? current.title,
          text: patch.text ?? current.text,
          lawful_basis: patch.lawfulBasis ?? current.lawful_basis,
          required: patch.required === undefined ? current.required : patch.required ? 1 : 0,
          active: patch.active === undefined ? current.active : patch.active ? 1 : 0,
          updated_at: now,
        };
        const reworded =
          changed.title !== current.title ||
          changed.text !== current.text ||
          changed.lawful_basis !== current.lawful_basis;
        if (!reworded && changed.required === current.required && changed.active === current.active)
          return { before: current, after: current };
        // New words are a new version; the one users may have granted stays, superseded, for the ledger.
        const next: PurposeRow = reworded
          ? {
              ...changed,
              version: current.version + 1,
              text_hash: purposeTextHash(changed.text),
              created_at: now,
            }
          : changed;
        if (reworded) {
          await consentPurposeStore.update(tx, tenantId, key, current.version, {
            superseded_at: now,
            updated_at: now,
          });
          await consentPurposeStore.insert(tx, next);
        } else {
          await consentPurposeStore.update(tx, tenantId, key, current.version, {
            required: next.required,
            active: next.active,
            updated_at: now,
          });
        }
        await audit.append(
          tx,
          tenantId,
          auditChange('consent.purpose_updated', next, actor, context, {
            previousVersion: current.version,
            newVersion: reworded,
          }),
        );
        return { before: current, after: next };
      });
      const gateMoved = gates(before) !== gates(after) || (gates(after) && after.version !== before.version);
      if (gateMoved) await deps.refreshTenantPrincipals(tenantId);
      return after;
    },

    /**
     * For each purpose's current version, how many active users granted it, granted an older version only,
     * withdrew, or never answered.
     */
    async coverage(tenantId: string): Promise<PurposeCoverage[]> {
      return storage.withTenant(tenantId, async (tx) => {
        const purposes = await consentPurposeStore.current(tx, tenantId);
        const counts = new Map((await consentGrantStore.coverage(tx, tenantId)).map((row) => [row.key, row]));
        const activeUsers = await consentGrantStore.countActiveUsers(tx, tenantId);
        return purposes.map((purpose) => {
          const { granted = 0, outdated = 0, withdrawn = 0 } = counts.get(purpose.key) ?? {};
          return {
            purpose,
            activeUsers,
            granted,
            outdated,
            withdrawn,
            none: activeUsers - granted - outdated - withdrawn,
          };
        });
      });
    },
  };
}

export type ConsentPurposeService = ReturnType<typeof createConsentPurposeService>;
