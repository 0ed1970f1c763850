import type { AcceptedPurpose, ConsentState } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { ConsentAction, ConsentSource } from '../../storage/tables.ts';
import type { AuditInput } from '../audit/audit-entry.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/request-context.ts';
import { consentGrantStore, type LedgerRow, type StateRow } from './consent-grant-store.ts';
import { consentPurposeStore, type PurposeRow } from './consent-purpose-store.ts';

export interface ConsentServiceDeps {
  storage: Storage;
  audit: AuditLog;
  clock: Clock;
  /** Rebuilds the user's cached principals (and re-checks their sockets): whether they owe consent changed. */
  refreshPrincipalsOf: (tenantId: string, userId: string) => Promise<void>;
}

/** One purpose as the user sees it, with where they stand. */
export interface UserConsent {
  purpose: PurposeRow;
  state: ConsentState;
  /** The version last granted or withdrawn; null when never. */
  version: number | null;
  changedAt: number | null;
}

/** The user acting on their own consent, for the audit entry. */
export interface ConsentActor {
  userId: string;
  sessionId?: string | undefined;
}

function standing(purpose: PurposeRow, state: StateRow | undefined): UserConsent {
  const status: ConsentState =
    state === undefined
      ? 'none'
      : state.granted === 0
        ? 'withdrawn'
        : state.version === purpose.version
          ? 'granted'
          : 'outdated';
  return { purpose, state: status, version: state?.version ?? null, changedAt: state?.changed_at ?? null };
}

const listOf = (purposes: readonly { key: string; version: number }[]) =>
  purposes.map((purpose) => `${purpose.key} (version ${purpose.version})`).join(', ');

/**
 * Users' consent: what they have granted, granting and withdrawing it, and the acceptance sign-up, invitation
 * claim and owner setup must carry. Every grant and withdrawal is a ledger row, the derived state and an audit
 * entry, in one transaction; withdrawal takes effect for the user's open sessions before the call returns.
 */
export function createConsentService(deps: ConsentServiceDeps) {
  const { storage, audit, clock } = deps;

  /** Appends the ledger row, moves the state and audits it: the one way consent changes. */
  async function record(
    tx: TenantTx,
    change: {
      tenantId: string;
      userId: string;
      purpose: PurposeRow;
      action: ConsentAction;
      source: ConsentSource;
      actor: AuditInput['actor'];
      context: RequestContext;
    },
  ): Promise<StateRow> {
    const { tenantId, userId, purpose, action, source } = change;
    const at = clock.now();
    await consentGrantStore.appendLedger(tx, {
      id: newId(),
      tenant_id: tenantId,
      user_id: userId,
      purpose_key: purpose.key,
      version: purpose.version,
      text_hash: purpose.text_hash,
      action,
      source,
      at,
    });
    const state: StateRow = {
      tenant_id: tenantId,
      user_id: userId,
      purpose_key: purpose.key,
      version: purpose.version,
      granted: action === 'grant' ? 1 : 0,
      changed_at: at,
    };
    await consentGrantStore.putState(tx, state);
    await audit.append(tx, tenantId, {
      actor: change.actor,
      action: action === 'grant' ? 'consent.granted' : 'consent.withdrawn',
      target: { type: 'user', id: userId },
      outcome: 'success',
      ...change.context,
      details: { key: purpose.key, version: purpose.version, textHash: purpose.text_hash, source },
    });
    return state;
  }

  const userActor = (actor: ConsentActor): AuditInput['actor'] => ({
    type: 'user',
    id: actor.userId,
    sessionId: actor.sessionId,
  });

  return {
    /**
     * The active purposes with the caller's standing, plus any retired purpose they still have granted (so
     * they can withdraw it).
     */
    async mine(tenantId: string, userId: string): Promise<UserConsent[]> {
      return storage.withTenant(tenantId, async (tx) => {
        const purposes = await consentPurposeStore.current(tx, tenantId);
        const states = new Map(
          (await consentGrantStore.statesOf(tx, tenantId, userId)).map((state) => [state.purpose_key, state]),
        );
        return purposes
          .filter((purpose) => purpose.active === 1 || states.get(purpose.key)?.granted === 1)
          .map((purpose) => standing(purpose, states.get(purpose.key)));
      });
    },

    /**
     * Grants the current version of an active purpose. `version` must be the current one: a user who read an
     * older text has not agreed to the new one. Granting what is already granted changes nothing.
     */
    async grant(
      tenantId: string,
      actor: ConsentActor,
      key: string,
      version: number,
      context: RequestContext,
    ): Promise<UserConsent> {
      const result = await storage.withTenant(tenantId, async (tx) => {
        const purpose = await consentPurposeStore.currentOf(tx, tenantId, key);
        if (purpose?.active !== 1) throw new AppError('not_found');
        if (version !== purpose.version) {
          throw new AppError(
            'consent_version_stale',
            `The current version of ${key} is ${purpose.version}, not ${version}: read it and accept that one.`,
          );
        }
        const before = await consentGrantStore.stateOf(tx, tenantId, actor.userId, key);
        if (before?.granted === 1 && before.version === purpose.version)
          return { consent: standing(purpose, before), changed: false };
        const state = await record(tx, {
          tenantId,
          userId: actor.userId,
          purpose,
          action: 'grant',
          source: 'self',
          actor: userActor(actor),
          context,
        });
        return { consent: standing(purpose, state), changed: true };
      });
      if (result.changed && result.consent.purpose.required === 1)
        await deps.refreshPrincipalsOf(tenantId, actor.userId);
      return result.consent;
    },

    /**
     * Withdraws the caller's consent to a purpose, at once: the ledger records the version they had granted.
     * Withdrawing a required purpose leaves the user's sessions, from this call on, able to reach only the
     * `profile` routes (where they can grant it again) and closes their realtime sockets; see
     * docs/privacy.md. Withdrawing what is not granted changes nothing.
     */
    async withdraw(
      tenantId: string,
      actor: ConsentActor,
      key: string,
      context: RequestContext,
    ): Promise<UserConsent> {
      const result = await storage.withTenant(tenantId, async (tx) => {
        const current = await consentPurposeStore.currentOf(tx, tenantId, key);
        if (!current) throw new AppError('not_found');
        const before = await consentGrantStore.stateOf(tx, tenantId, actor.userId, key);
        if (before?.granted !== 1) return { consent: standing(current, before), changed: false };
        const granted = await consentPurposeStore.version(tx, tenantId, key, before.version);
        const state = await record(tx, {
          tenantId,
          userId: actor.userId,
          purpose: granted ?? current,
          action: 'withdraw',
          source: 'self',
          actor: userActor(actor),
          context,
        });
        return { consent: standing(current, state), changed: true };
      });
      if (result.changed && result.consent.purpose.required === 1)
        await deps.refreshPrincipalsOf(tenantId, actor.userId);
      return result.consent;
    },

    /** A user's whole ledger, oldest first: what an administrator shows to prove consent (Art. 7(1)). */
    async ledgerOf(tenantId: string, userId: string): Promise<LedgerRow[]> {
      return storage.withTenant(tenantId, async (tx) => {
        if (!(await consentGrantStore.userExists(tx, tenantId, userId))) throw new AppError('not_found');
        return consentGrantStore.ledgerOf(tx, tenantId, userId);
      });
    },

    /**
     * Judges what a new account accepts, before it exists: every entry must name an active purpose at its
     * current version (`consent_version_stale` otherwise: the form is out of date), and every required
     * purpose must be among them (`consent_required`, naming the missing ones). Answers the versions to record.
     */
    async judgeAcceptance(
      tx: TenantTx,
      tenantId: string,
      accepted: readonly AcceptedPurpose[],
    ): Promise<PurposeRow[]> {
      const purposes = new Map(
        (await consentPurposeStore.current(tx, tenantId, { activeOnly: true })).map((row) => [row.key, row]),
      );
      const stale = accepted.filter((entry) => purposes.get(entry.key)?.version !== entry.version);
      if (stale.length > 0) {
        throw new AppError(
          'consent_version_stale',
          `Not current: ${listOf(stale)}. Read the purposes again (GET /v1/tenants/{tenantId}/consent-purposes).`,
        );
      }
      const acceptedKeys = new Set(accepted.map((entry) => entry.key));
      const missing = [...purposes.values()].filter(
        (row) => row.required === 1 && !acceptedKeys.has(row.key),
      );
      if (missing.length > 0)
        throw new AppError('consent_required', `Accept the current version of: ${listOf(missing)}.`);
      return accepted.flatMap((entry) => purposes.get(entry.key) ?? []);
    },

    /** Records what a new account accepted, in the transaction that creates it (see `judgeAcceptance`). */
    async recordAcceptance(
      tx: TenantTx,
      tenantId: string,
      userId: string,
      purposes: readonly PurposeRow[],
      source: Exclude<ConsentSource, 'self'>,
      context: RequestContext,
    ): Promise<void> {
      for (const purpose of purposes) {
        await record(tx, {
          tenantId,
          userId,
          purpose,
          action: 'grant',
          source,
          actor: { type: 'user', id: userId },
          context,
        });
      }
    },
  };
}

export type ConsentService = ReturnType<typeof createConsentService>;
