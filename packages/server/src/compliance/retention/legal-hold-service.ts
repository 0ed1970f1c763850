import type { LegalHoldTarget, LegalHoldView, PlaceLegalHold } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import { newId } from '../../ids.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditInput } from '../audit/audit-entry.ts';
import type { RequestContext } from '../audit/request-context.ts';
import { type LegalHoldRow, legalHoldStore } from './legal-hold-store.ts';

/** Who places or releases a hold, for the audit entry. */
export interface HoldActor {
  userId: string;
  actor: AuditInput['actor'];
  context: RequestContext;
}

/** The holds in force in a tenant at one time: what the sweeper and erasure must leave alone. */
export interface HeldSet {
  tenant: boolean;
  users: ReadonlySet<string>;
  dialogs: ReadonlySet<string>;
}

/** Does a user or dialog exist in this tenant (a hold on anything else is a 404)? */
export type HoldTargetCheck = (
  tx: TenantTx,
  tenantId: string,
  type: Exclude<LegalHoldTarget, 'tenant'>,
  id: string,
) => Promise<boolean>;

/**
 * Legal holds (issue 14): an administrator with `legal_holds.manage` places a hold on a user, a dialog or
 * the whole tenant, with a reason (sealed under the tenant key) and an optional end. While a hold is in force
 * the retention sweeper skips what it covers, erasure of a held user waits, and a tenant purge is refused.
 * Placing and releasing are audited (ids and times only: the reason may name people). Holds are never
 * deleted: a released hold is the record of it.
 */
export function createLegalHoldService(deps: {
  storage: Storage;
  fieldCipher: FieldCipher;
  audit: AuditLog;
  clock: Clock;
  targetExists: HoldTargetCheck;
}) {
  const { storage, fieldCipher, audit, clock } = deps;
  const at = (tenantId: string, rowId: string) => ({
    tenantId,
    table: 'legal_holds',
    column: 'reason',
    rowId,
  });
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const inForce = (row: LegalHoldRow, now: number) =>
    row.released_at === null && (row.ends_at === null || row.ends_at > now);

  async function present(tx: TenantTx, row: LegalHoldRow): Promise<LegalHoldView> {
    return {
      id: row.id,
      targetType: row.target_type,
      targetId: row.target_id,
      reason: await fieldCipher.open(tx, at(row.tenant_id, row.id), row.reason),
      placedBy: row.placed_by,
      placedAt: new Date(row.placed_at).toISOString(),
      endsAt: iso(row.ends_at),
      releasedAt: iso(row.released_at),
      releasedBy: row.released_by,
      active: inForce(row, clock.now()),
    };
  }

  async function heldIn(tx: TenantTx, tenantId: string): Promise<HeldSet> {
    const rows = await legalHoldStore.list(tx, tenantId, clock.now());
    return {
      tenant: rows.some((row) => row.target_type === 'tenant'),
      users: new Set(rows.filter((row) => row.target_type === 'user').map((row) => row.target_id)),
      dialogs: new Set(rows.filter((row) => row.target_type === 'dialog').map((row) => row.target_id)),
    };
  }

  const service = {
    async place(tenantId: string, actor: HoldActor, input: PlaceLegalHold): Promise<LegalHoldView> {
      return storage.withTenant(tenantId, async (tx) => {
        const now = clock.now();
        let targetId = tenantId;
        if (input.targetType !== 'tenant') {
          if (input.targetId === undefined)
            throw new AppError('validation_failed', 'targetId: a user or dialog hold names its target.');
          // Another tenant's user or dialog is not found here: row-level security and the tenant filter.
          if (!(await deps.targetExists(tx, tenantId, input.targetType, input.targetId)))
            throw new AppError('not_found');
          targetId = input.targetId;
        } else if (input.targetId !== undefined && input.targetId !== tenantId) {
          throw new AppError('not_found');
        }
        const endsAt = input.endsAt === undefined ? null : Date.parse(input.endsAt);
        if (endsAt !== null && endsAt <= now)
          throw new AppError('validation_failed', 'endsAt: a hold ends in the future.');
        const id = newId();
        const row: LegalHoldRow = {
          id,
          tenant_id: tenantId,
          target_type: input.targetType,
          target_id: targetId,
          reason: await fieldCipher.sealForTenant(tx, at(tenantId, id), input.reason),
          placed_by: actor.userId,
          placed_at: now,
          ends_at: endsAt,
          released_at: null,
          released_by: null,
        };
        await legalHoldStore.insert(tx, row);
        await audit.append(tx, tenantId, {
          actor: actor.actor,
          action: 'retention.legal_hold_placed',
          target: { type: `legal_hold_${input.targetType}`, id: targetId },
          outcome: 'success',
          ...actor.context,
          details: { holdId: id, targetType: input.targetType, endsAt: iso(endsAt) },
        });
        return present(tx, row);
      });
    },

    /** Ends a hold now; releasing one already released or ended is refused with 409. */
    async release(tenantId: string, actor: HoldActor, holdId: string): Promise<LegalHoldView> {
      return storage.withTenant(tenantId, async (tx) => {
        const row = await legalHoldStore.find(tx, tenantId, holdId);
        if (!row) throw new AppError('not_found');
        const now = clock.now();
        if (!inForce(row, now) || !(await legalHoldStore.release(tx, tenantId, holdId, actor.userId, now)))
          throw new AppError('conflict', 'This hold is no longer in force.');
        await audit.append(tx, tenantId, {
          actor: actor.actor,
          action: 'retention.legal_hold_released',
          target: { type: `legal_hold_${row.target_type}`, id: row.target_id },
          outcome: 'success',
          ...actor.context,
          details: { holdId, targetType: row.target_type },
        });
        return present(tx, { ...row, released_at: now, released_by: actor.userId });
      });
    },

    async list(tenantId: string, filter: { active?: boolean }): Promise<LegalHoldView[]> {
      return storage.withTenant(tenantId, async (tx) => {
        const rows = await legalHoldStore.list(tx, tenantId, filter.active ? clock.now() : undefined);
        return Promise.all(rows.map((row) => present(tx, row)));
      });
    },

    async get(tenantId: string, holdId: string): Promise<LegalHoldView> {
      return storage.withTenant(tenantId, async (tx) => {
        const row = await legalHoldStore.find(tx, tenantId, holdId);
        if (!row) throw new AppError('not_found');
        return present(tx, row);
      });
    },

    /** Every hold in force now, in the caller's transaction. */
    heldIn,

    /**
     * Is this user, dialog or the tenant held now (a hold on the tenant holds all of it)? For erasure
     * (waits while its user is held) and the tenant purge (refused while anything is held).
     */
    async isHeldIn(
      tx: TenantTx,
      tenantId: string,
      target: { type: LegalHoldTarget; id?: string },
    ): Promise<boolean> {
      const held = await heldIn(tx, tenantId);
      if (held.tenant) return true;
      if (target.type === 'user') return target.id !== undefined && held.users.has(target.id);
      if (target.type === 'dialog') return target.id !== undefined && held.dialogs.has(target.id);
      return held.users.size > 0 || held.dialogs.size > 0;
    },

    /** `isHeldIn` in a transaction of its own. */
    isHeld(tenantId: string, target: { type: LegalHoldTarget; id?: string }): Promise<boolean> {
      return storage.withTenant(tenantId, (tx) => service.isHeldIn(tx, tenantId, target));
    },
  };
  return service;
}

export type LegalHoldService = ReturnType<typeof createLegalHoldService>;
