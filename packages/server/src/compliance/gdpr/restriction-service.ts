import type { DataSubjectRequestKind } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import { newId } from '../../ids.ts';
import type { SessionService } from '../../identity/sessions/session-service.ts';
import type { UserService } from '../../identity/user-service.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { DsrAudited, DsrService } from './dsr-service.ts';
import { type RestrictionRow, restrictionStore } from './restriction-store.ts';

/** The requests a restriction answers: restriction itself (Art. 18) and objection (Art. 21). */
const ANSWERED_KINDS: readonly DataSubjectRequestKind[] = ['restriction', 'objection'];

/** An administrator acting on a user's account; only owners act on owners. */
export interface AccountActor extends DsrAudited {
  userId: string;
  isOwner: boolean;
}

export interface RestrictionServiceDeps {
  storage: Storage;
  fieldCipher: FieldCipher;
  users: Pick<UserService, 'statusForChangeIn' | 'setStatusIn' | 'getUserIn'>;
  sessions: Pick<SessionService, 'endUserSessionsIn' | 'announceEnded'>;
  dsr: Pick<DsrService, 'createIn' | 'openRequestIn' | 'transitionIn'>;
  audit: AuditLog;
  clock: Clock;
}

export interface RestrictionView {
  id: string;
  userId: string;
  requestId: string | null;
  reason: string;
  restrictedBy: string;
  restrictedAt: string;
  liftedAt: string | null;
  liftedBy: string | null;
  liftReason: string | null;
}

/**
 * Restriction of processing (GDPR Art. 18): the account is frozen, its data kept. A restricted user
 * (`users.status = 'restricted'`) cannot sign in, loses every session in the transaction that restricts
 * them (their sockets close once it commits), cannot be changed, and — like any account that is not active
 * — cannot be added to dialogs, called, or seen online. Lifting gives back the status it had before.
 * Each restriction answers a data subject request, opened here when none is named, and is audited.
 */
export function createRestrictionService(deps: RestrictionServiceDeps) {
  const { storage, fieldCipher, users, sessions, dsr, audit, clock } = deps;
  const at = (tenantId: string, rowId: string, column: 'reason' | 'lift_reason') => ({
    tenantId,
    table: 'user_restrictions',
    column,
    rowId,
  });

  /** The account's status, locked; only owners act on owners, and nobody freezes their own account. */
  async function statusFor(tx: TenantTx, tenantId: string, actor: AccountActor, userId: string) {
    if (userId === actor.userId) throw new AppError('forbidden', 'You cannot restrict your own account.');
    const { status, roles } = await users.statusForChangeIn(tx, tenantId, userId);
    if (status === 'erased') throw new AppError('not_found');
    if (roles.includes('owner') && !actor.isOwner)
      throw new AppError('forbidden', 'Only owners can restrict an owner or lift it.');
    return status;
  }

  async function present(tx: TenantTx, row: RestrictionRow): Promise<RestrictionView> {
    return {
      id: row.id,
      userId: row.user_id,
      requestId: row.request_id,
      reason: await fieldCipher.open(tx, at(row.tenant_id, row.id, 'reason'), row.reason),
      restrictedBy: row.restricted_by,
      restrictedAt: new Date(row.restricted_at).toISOString(),
      liftedAt: row.lifted_at === null ? null : new Date(row.lifted_at).toISOString(),
      liftedBy: row.lifted_by,
      liftReason:
        row.lift_reason === null
          ? null
          : await fieldCipher.open(tx, at(row.tenant_id, row.id, 'lift_reason'), row.lift_reason),
    };
  }

  return {
    /**
     * Restricts processing of a user's account, answering `requestId` (an open restriction or objection
     * request of theirs) or a new restriction request. Resolves once every node closed their sockets.
     */
    async restrict(
      tenantId: string,
      actor: AccountActor,
      userId: string,
      input: { reason: string; requestId?: string | undefined },
    ): Promise<{ restrictionId: string; requestId: string }> {
      const done = await storage.withTenant(tenantId, async (tx) => {
        const status = await statusFor(tx, tenantId, actor, userId);
        if (status === 'restricted') throw new AppError('already_restricted');
        const request =
          input.requestId === undefined
            ? await dsr.createIn(
                tx,
                tenantId,
                { kind: 'restriction', subjectId: userId, requestedBy: actor.userId, source: 'admin' },
                actor,
              )
            : await dsr.openRequestIn(tx, tenantId, input.requestId, userId, ANSWERED_KINDS);
        const id = newId();
        await restrictionStore.insert(tx, {
          id,
          tenant_id: tenantId,
          user_id: userId,
          request_id: request.id,
          prior_status: status,
          reason: await fieldCipher.sealForTenant(tx, at(tenantId, id, 'reason'), input.reason),
          restricted_by: actor.userId,
          restricted_at: clock.now(),
          lifted_at: null,
          lifted_by: null,
          lift_reason: null,
        });
        await users.setStatusIn(tx, tenantId, userId, 'restricted');
        const ended = await sessions.endUserSessionsIn(tx, tenantId, userId, 'restricted', actor.actor);
        await audit.append(tx, tenantId, {
          actor: actor.actor,
          action: 'privacy.processing_restricted',
          target: { type: 'user', id: userId },
          outcome: 'success',
          ...actor.context,
          details: { restrictionId: id, requestId: request.id },
        });
        await dsr.transitionIn(
          tx,
          tenantId,
          request.id,
          { status: 'completed', outcome: 'Processing of the account was restricted.' },
          actor,
        );
        return { restrictionId: id, requestId: request.id, ended };
      });
      await sessions.announceEnded(done.ended);
      return { restrictionId: done.restrictionId, requestId: done.requestId };
    },

    /** Lifts the restriction in force: the account gets back the status it had before. */
    async lift(tenantId: string, actor: AccountActor, userId: string, input: { reason: string }) {
      await storage.withTenant(tenantId, async (tx) => {
        if ((await statusFor(tx, tenantId, actor, userId)) !== 'restricted')
          throw new AppError('not_restricted');
        const current = await restrictionStore.current(tx, tenantId, userId);
        const restored = current?.prior_status ?? 'active';
        if (current) {
          await restrictionStore.update(tx, tenantId, current.id, {
            lifted_at: clock.now(),
            lifted_by: actor.userId,
            lift_reason: await fieldCipher.sealForTenant(
              tx,
              at(tenantId, current.id, 'lift_reason'),
              input.reason,
            ),
          });
        }
        await users.setStatusIn(tx, tenantId, userId, restored);
        await audit.append(tx, tenantId, {
          actor: actor.actor,
          action: 'privacy.restriction_lifted',
          target: { type: 'user', id: userId },
          outcome: 'success',
          ...actor.context,
          details: { restrictionId: current?.id ?? null, status: restored },
        });
      });
    },

    /** Every restriction of a user, newest first, with the reasons. */
    async history(tenantId: string, userId: string): Promise<RestrictionView[]> {
      return storage.withTenant(tenantId, async (tx) => {
        await users.getUserIn(tx, tenantId, userId);
        const rows = await restrictionStore.history(tx, tenantId, userId);
        return Promise.all(rows.map((row) => present(tx, row)));
      });
    },
  };
}

export type RestrictionService = ReturnType<typeof createRestrictionService>;
