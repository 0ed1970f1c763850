import {
  MAX_SUPPORT_GRANT_HOURS,
  type Permission,
  type Scope,
  type SupportScope,
  supportScopes,
} from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { FieldCipher, FieldLocation } from '../../crypto/field-cipher.ts';
import type { Principal } from '../../identity/sessions/principal-resolver.ts';
import { newId } from '../../ids.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { AuditInput } from '../audit/audit-entry.ts';
import type { AuditEntryView, AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/request-context.ts';
import { type SupportGrantRow, supportGrantStore } from './support-grant-store.ts';
import { supportScopeRules } from './support-scopes.ts';

/** The operator staff member making a request (platform/staff-service.ts's principal, as far as this needs). */
export interface StaffCaller {
  staffId: string;
  sessionId: string;
}

/** A tenant user deciding about support access. */
export interface TenantDecider {
  tenantId: string;
  userId: string | null;
  sessionId: string;
  supportGrant?: { id: string } | undefined;
}

/** The request under a grant, as the auth hook knows it before the handler runs. */
export interface GrantedRequest {
  operationId: string;
  method: string;
  /** The path without its query string (a query can carry personal data: it is never recorded). */
  path: string;
  /** The `:dialogId` path parameter, if the route has one. */
  dialogId: string | undefined;
  /** Whether the route's permission is the one that decides about support access. */
  decidesSupportAccess: boolean;
  context: RequestContext;
}

export interface SupportGrantServiceDeps {
  storage: Storage;
  audit: AuditLog;
  /** Seals and opens the staff member's reason under the tenant's data key. */
  fieldCipher: Pick<FieldCipher, 'sealForTenant' | 'open'>;
  clock: Clock;
}

/** Where a grant's sealed reason lives (bound into its envelope). */
export const grantReasonAt = (row: Pick<SupportGrantRow, 'id' | 'tenant_id'>): FieldLocation => ({
  tenantId: row.tenant_id,
  table: 'support_grants',
  column: 'reason',
  rowId: row.id,
});

const HOUR_MS = 3600_000;
export const SUPPORT_ACCESSED_ACTION = 'support.accessed';

const isScope = (value: string): value is SupportScope =>
  (supportScopes as readonly string[]).includes(value);

/**
 * Support access grants (docs/security.md, "Operator staff and support access"): a support staff member asks
 * one tenant for access with a reason, a scope and a duration; the tenant's admins approve (maybe narrower),
 * refuse or revoke; the grant is checked on every request made under it — status, expiry by the clock, the
 * tenant's policy, the operation against the scope — and each such request is recorded in the tenant's audit
 * chain with the grant id, in the same transaction as the check.
 */
export function createSupportGrantService({ storage, audit, fieldCipher, clock }: SupportGrantServiceDeps) {
  /** The row as the service answers it: the reason opened (stored sealed under the tenant's data key). */
  const opened = async (tx: TenantTx, row: SupportGrantRow): Promise<SupportGrantRow> => ({
    ...row,
    reason: await fieldCipher.open(tx, grantReasonAt(row), row.reason),
  });

  const deciderActor = (decider: TenantDecider): AuditInput['actor'] => ({
    type: 'user',
    id: decider.userId ?? undefined,
    sessionId: decider.sessionId,
  });

  /** Only a person of the tenant decides: never a grant's holder, never the tenant's server. */
  function assertDecider(decider: TenantDecider): string {
    if (decider.supportGrant) throw new AppError('self_approval');
    if (decider.userId === null)
      throw new AppError('forbidden', 'Support access is decided by a person, not an API client.');
    return decider.userId;
  }

  async function decide(
    decider: TenantDecider,
    grantId: string,
    from: readonly SupportGrantRow['status'][],
    change: (row: SupportGrantRow, userId: string, now: number) => Partial<SupportGrantRow>,
    action: string,
    context: RequestContext,
  ): Promise<SupportGrantRow> {
    const userId = assertDecider(decider);
    const { tenantId } = decider;
    const now = clock.now();
    return storage.withTenant(tenantId, async (tx) => {
      const row = await supportGrantStore.byId(tx, tenantId, grantId);
      if (!row) throw new AppError('not_found');
      const update = change(row, userId, now);
      if (!(await supportGrantStore.transition(tx, tenantId, grantId, from, update)))
        throw new AppError('grant_not_pending');
      await audit.append(tx, tenantId, {
        actor: deciderActor(decider),
        action,
        target: { type: 'support_grant', id: grantId },
        outcome: 'success',
        ...context,
        details: {
          staffId: row.staff_id,
          ...(update.scope === undefined ? {} : { scope: update.scope }),
          ...(update.duration_hours === undefined ? {} : { durationHours: update.duration_hours }),
        },
      });
      return opened(tx, { ...row, ...update });
    });
  }

  return {
    /** A support staff member asks a tenant for access. */
    async request(
      staff: StaffCaller,
      input: {
        tenantId: string;
        reason: string;
        scope: SupportScope;
        dialogIds?: string[] | undefined;
        durationHours: number;
      },
    ): Promise<SupportGrantRow> {
      const { tenantId } = input;
      const now = clock.now();
      return storage.withSystem(async (system) => {
        const tenant = await system
          .selectFrom('tenants')
          .select('id')
          .where('id', '=', tenantId)
          .executeTakeFirst();
        if (!tenant) throw new AppError('not_found');
        const tx = await storage.enterTenant(system, tenantId);
        if (!(await supportGrantStore.allowed(tx, tenantId))) throw new AppError('support_access_forbidden');
        const row: SupportGrantRow = {
          id: newId(),
          tenant_id: tenantId,
          staff_id: staff.staffId,
          reason: input.reason,
          scope: input.scope,
          dialog_ids: input.dialogIds === undefined ? null : JSON.stringify([...new Set(input.dialogIds)]),
          duration_hours: input.durationHours,
          status: 'pending',
          requested_at: now,
          decided_by: null,
          decided_at: null,
          expires_at: null,
          revoked_by: null,
          revoked_at: null,
        };
        await supportGrantStore.insert(tx, {
          ...row,
          reason: await fieldCipher.sealForTenant(tx, grantReasonAt(row), input.reason),
        });
        await audit.append(tx, tenantId, {
          actor: { type: 'staff', id: staff.staffId, sessionId: staff.sessionId },
          action: 'support.requested',
          target: { type: 'support_grant', id: row.id },
          outcome: 'success',
          details: { scope: input.scope, durationHours: input.durationHours },
        });
        return row;
      });
    },

    async listForStaff(staffId: string): Promise<SupportGrantRow[]> {
      const rows = await storage.withSystem((tx) => supportGrantStore.listForStaff(tx, staffId));
      const grants = [];
      // Each reason is sealed under its own tenant's key: opened in that tenant's transaction.
      for (const row of rows) grants.push(await storage.withTenant(row.tenant_id, (tx) => opened(tx, row)));
      return grants;
    },

    async listForTenant(tenantId: string): Promise<SupportGrantRow[]> {
      return storage.withTenant(tenantId, async (tx) => {
        const grants = [];
        for (const row of await supportGrantStore.listForTenant(tx, tenantId))
          grants.push(await opened(tx, row));
        return grants;
      });
    },

    /** Approves a pending request, as asked or narrower (a scope before it, fewer hours); once only. */
    async approve(
      decider: TenantDecider,
      grantId: string,
      narrowing: {
        scope?: SupportScope | undefined;
        dialogIds?: string[] | undefined;
        durationHours?: number | undefined;
      },
      context: RequestContext,
    ): Promise<SupportGrantRow> {
      return decide(
        decider,
        grantId,
        ['pending'],
        (row, userId, now) => {
          const requested = scopeOf(row);
          const scope = narrowing.scope ?? requested;
          const hours = narrowing.durationHours ?? row.duration_hours;
          const asked = dialogIdsOf(row);
          const dialogIds = narrowing.dialogIds ?? asked;
          if (dialogIds.some((id) => !asked.includes(id)))
            throw new AppError(
              'validation_failed',
              'An approval may name fewer of the requested dialogs, never others.',
            );
          if (!supportScopeRules[requested].narrowsTo.includes(scope))
            throw new AppError(
              'validation_failed',
              'An approval may narrow the requested scope, not widen it.',
            );
          if (hours > row.duration_hours || hours > MAX_SUPPORT_GRANT_HOURS)
            throw new AppError(
              'validation_failed',
              'An approval may shorten the requested duration, not extend it.',
            );
          return {
            status: 'approved',
            scope,
            dialog_ids: scope === 'messages' ? JSON.stringify([...new Set(dialogIds)]) : null,
            duration_hours: hours,
            decided_by: userId,
            decided_at: now,
            expires_at: now + hours * HOUR_MS,
          };
        },
        'support.approved',
        context,
      );
    },

    async refuse(decider: TenantDecider, grantId: string, context: RequestContext): Promise<SupportGrantRow> {
      return decide(
        decider,
        grantId,
        ['pending'],
        (_row, userId, now) => ({ status: 'refused', decided_by: userId, decided_at: now }),
        'support.refused',
        context,
      );
    },

    /** Ends an approved grant now (effective on the staff member's next request). */
    async revoke(decider: TenantDecider, grantId: string, context: RequestContext): Promise<SupportGrantRow> {
      return decide(
        decider,
        grantId,
        ['approved'],
        (_row, userId, now) => ({ status: 'revoked', revoked_by: userId, revoked_at: now }),
        'support.revoked',
        context,
      );
    },

    /** Every request made under one of the tenant's grants, oldest first, from its audit chain. */
    async accesses(tenantId: string, grantId: string): Promise<AuditEntryView[]> {
      return storage.withTenant(tenantId, async (tx) => {
        if (!(await supportGrantStore.byId(tx, tenantId, grantId))) throw new AppError('not_found');
        const filter = { action: SUPPORT_ACCESSED_ACTION, targetType: 'support_grant', targetId: grantId };
        const page = await audit.query(tx, tenantId, filter, { limit: 500, order: 'asc' });
        return page.entries;
      });
    },

    async allowed(tenantId: string): Promise<boolean> {
      return storage.withTenant(tenantId, (tx) => supportGrantStore.allowed(tx, tenantId));
    },

    /** Allows or forbids support access; forbidding also stops every approved grant on its next request. */
    async setAllowed(decider: TenantDecider, allowed: boolean, context: RequestContext): Promise<void> {
      const userId = assertDecider(decider);
      const { tenantId } = decider;
      await storage.withTenant(tenantId, async (tx) => {
        await supportGrantStore.setAllowed(tx, tenantId, allowed, `user:${userId}`, clock.now());
        await audit.append(tx, tenantId, {
          actor: deciderActor(decider),
          action: allowed ? 'support.allowed' : 'support.forbidden',
          outcome: 'success',
          ...context,
        });
      });
    },

    /**
     * Checks one request under a grant and records it in the tenant's chain, in one transaction; answers the
     * principal the request acts as in the tenant. Refusals are coded and recorded too (outcome `denied`).
     */
    async authorize(staff: StaffCaller, grantId: string, request: GrantedRequest): Promise<Principal> {
      const now = clock.now();
      const outcome = await storage.withSystem(async (system) => {
        const row = await supportGrantStore.byIdForStaff(system, grantId, staff.staffId);
        if (!row) return { refusal: 'not_found' as const };
        const tx = await storage.enterTenant(system, row.tenant_id);
        const refusal = await refusalOf(tx, row, request, now);
        await audit.append(tx, row.tenant_id, {
          actor: { type: 'staff', id: staff.staffId, sessionId: staff.sessionId },
          action: SUPPORT_ACCESSED_ACTION,
          target: { type: 'support_grant', id: row.id },
          outcome: refusal === undefined ? 'success' : 'denied',
          ...request.context,
          details: {
            operation: request.operationId,
            method: request.method,
            path: request.path,
            ...(refusal === undefined ? {} : { refusal }),
          },
        });
        return { row, refusal };
      });
      if (outcome.refusal !== undefined) throw new AppError(outcome.refusal);
      const { row } = outcome;
      const rule = supportScopeRules[scopeOf(row)];
      return {
        tenantId: row.tenant_id,
        sessionId: staff.sessionId,
        userId: null,
        clientId: null,
        roles: [],
        permissions: new Set<Permission>(rule.permissions),
        scopes: new Set<Scope>([rule.tokenScope]),
        consentRequired: false,
        supportGrant: { id: row.id, staffId: staff.staffId },
      };
    },
  };
}

/** Why a request under `row` is refused now, or undefined when it may go on. */
async function refusalOf(tx: TenantTx, row: SupportGrantRow, request: GrantedRequest, now: number) {
  if (request.decidesSupportAccess) return 'self_approval' as const;
  if (!(await supportGrantStore.allowed(tx, row.tenant_id))) return 'support_access_forbidden' as const;
  if (row.status === 'revoked') return 'grant_revoked' as const;
  if (row.status !== 'approved') return 'grant_not_approved' as const;
  if (row.expires_at === null || row.expires_at <= now) return 'grant_expired' as const;
  const rule = supportScopeRules[scopeOf(row)];
  if (!rule.operations.has(request.operationId)) return 'support_scope_exceeded' as const;
  if (request.method !== 'GET' && !rule.writes) return 'support_scope_exceeded' as const;
  if (rule.namedDialogsOnly && !dialogIdsOf(row).includes(request.dialogId ?? ''))
    return 'support_scope_exceeded' as const;
  return undefined;
}

/** A stored scope; anything unknown (never written) reads as the narrowest. */
function scopeOf(row: SupportGrantRow): SupportScope {
  return isScope(row.scope) ? row.scope : 'metadata';
}

/** The dialogs a `messages` grant names (none for the other scopes). */
export function dialogIdsOf(row: SupportGrantRow): string[] {
  return row.dialog_ids === null ? [] : (JSON.parse(row.dialog_ids) as string[]);
}

export type SupportGrantService = ReturnType<typeof createSupportGrantService>;
