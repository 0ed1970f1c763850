import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { AuditInput } from '../../compliance/audit/audit-entry.ts';
import type { AuditLog } from '../../compliance/audit/audit-log.ts';
import type { RequestContext } from '../../compliance/audit/request-context.ts';
import type { Counter } from '../../counters/counter.ts';
import type { FieldLocation } from '../../crypto/field-cipher.ts';
import type { SecurityCore } from '../../crypto/security-core.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { PasswordHasher } from '../passwords/password-hasher.ts';
import { AccountLockout, lockoutKeyForUser, registerFailedAttempt } from '../passwords/lockout.ts';
import type { SessionService } from '../sessions/session-service.ts';
import { loadPasswordPolicy } from '../passwords/tenant-policy.ts';
import {
  createTotpEnrollment,
  generateRecoveryCodes,
  hashRecoveryCode,
  matchRecoveryCode,
  type TotpEnrollment,
  verifyTotp,
} from './totp.ts';
import { type UserRow, userStore } from '../user-store.ts';

export interface MfaServiceDeps {
  storage: Storage;
  security: SecurityCore;
  hasher: PasswordHasher;
  audit: AuditLog;
  /** Where failed proofs count towards the account lockout (see `AccountLockout`). */
  counter: Counter;
  clock: Clock;
  sessions: SessionService;
}

/** The signed-in user acting on their own account, through one session. */
export interface MfaActor {
  userId: string;
  sessionId: string;
}

/** What the user proves to turn MFA off: the password, and a TOTP code or one recovery code. */
export interface MfaDisableProof {
  password: string;
  code?: string | undefined;
  recoveryCode?: string | undefined;
}

/** Every TOTP column, cleared: MFA off, nothing pending, no recovery codes left. */
const MFA_CLEARED = {
  totp_secret: null,
  totp_pending_secret: null,
  totp_last_step: null,
  totp_enabled_at: null,
  recovery_codes: null,
} as const satisfies Partial<UserRow>;

const DEFAULT_ISSUER = 'Parley';

/** A Key URI label part: authenticator apps split `issuer:account` at the first colon. */
const labelPart = (value: string | null | undefined): string | undefined => {
  const cleaned = value?.replaceAll(':', ' ').trim();
  return cleaned === undefined || cleaned === '' ? undefined : cleaned;
};

/**
 * TOTP second factor (RFC 6238): enrolment, confirmation, self-service disabling and the admin reset.
 * Secrets are sealed under the user's own key (so erasure shreds them too); recovery codes are stored as
 * peppered HMACs. Every change is audited in the transaction that makes it. Wrong passwords and codes on
 * `disable` count towards the same account lockout as sign-in, so the endpoint is no guessing oracle.
 */
export function createMfaService(deps: MfaServiceDeps) {
  const { storage, security, hasher, audit, clock, sessions } = deps;
  const lockout = new AccountLockout(deps.counter);
  const { fieldCipher } = security;
  const at = (tenantId: string, userId: string, column: string): FieldLocation => ({
    tenantId,
    table: 'users',
    column,
    rowId: userId,
  });
  /** One audit entry about `userId`'s second factor, in the caller's transaction. */
  const record = (
    tx: TenantTx,
    tenantId: string,
    entry: Pick<AuditInput, 'action' | 'outcome' | 'details'> & { actor: MfaActor; userId: string },
    context: RequestContext,
  ) =>
    audit.append(tx, tenantId, {
      actor: { type: 'user', id: entry.actor.userId, sessionId: entry.actor.sessionId },
      action: entry.action,
      target: { type: 'user', id: entry.userId },
      outcome: entry.outcome,
      ...context,
      ...(entry.details === undefined ? {} : { details: entry.details }),
    });

  /**
   * Reads the user row, locked until the transaction ends on PostgreSQL (SQLite serialises transactions
   * already). Without the lock, parallel requests would all read the same lock state, failure count and
   * pending secret, and all pass: the lockout would count one failure for a burst of guesses.
   */
  async function lockUser(tx: TenantTx, tenantId: string, userId: string): Promise<UserRow> {
    const user = await userStore.lockById(tx, tenantId, userId, storage.dialect);
    if (!user) throw new AppError('not_found');
    return user;
  }

  /** The label an authenticator app shows: issuer = tenant name, account = the user's e-mail. */
  async function keyUriLabel(tx: TenantTx, tenantId: string, user: UserRow) {
    const tenant = await tx
      .selectFrom('tenants')
      .select('name')
      .where('id', '=', tenantId)
      .executeTakeFirst();
    const email =
      user.email === null
        ? null
        : await fieldCipher.open(tx, at(tenantId, user.id, 'email'), user.email, user.id);
    return {
      issuer: labelPart(tenant?.name) ?? DEFAULT_ISSUER,
      accountName: labelPart(email) ?? user.id,
    };
  }

  /** Hashes of ten fresh recovery codes, and the codes themselves to show once. */
  async function freshRecoveryCodes(tx: TenantTx, tenantId: string) {
    const pepper = (await security.keyring.tenantKey(tx, tenantId, 'index')).key;
    const codes = generateRecoveryCodes();
    return { codes, hashes: JSON.stringify(codes.map((code) => hashRecoveryCode(code, pepper))) };
  }

  /**
   * The user's second factor: a fresh TOTP code, or an unused recovery code. `reused`: a used TOTP step.
   * `spend` is what using it changes on the row (the TOTP step recorded, the recovery code struck out), so
   * a proof that is kept (a step-up) cannot be replayed.
   */
  async function secondFactorMatches(
    tx: TenantTx,
    tenantId: string,
    user: UserRow,
    proof: MfaDisableProof,
  ): Promise<{ verdict: 'ok' | 'invalid' | 'reused'; spend?: Partial<UserRow> }> {
    if (proof.code !== undefined && user.totp_secret != null) {
      const secret = await fieldCipher.open(
        tx,
        at(tenantId, user.id, 'totp_secret'),
        user.totp_secret,
        user.id,
      );
      const verdict = verifyTotp({
        secret,
        code: proof.code,
        now: clock.now(),
        lastUsedStep: user.totp_last_step ?? null,
      });
      if (verdict.ok) return { verdict: 'ok', spend: { totp_last_step: verdict.step } };
      return { verdict: verdict.reason === 'replayed' ? 'reused' : 'invalid' };
    }
    if (proof.recoveryCode !== undefined) {
      const stored = JSON.parse(user.recovery_codes ?? '[]') as (string | null)[];
      const pepper = (await security.keyring.tenantKey(tx, tenantId, 'index')).key;
      const hashes = stored.map((hash) => hash ?? '');
      const index = matchRecoveryCode(proof.recoveryCode, hashes, pepper);
      if (index === -1) return { verdict: 'invalid' };
      stored[index] = null;
      return { verdict: 'ok', spend: { recovery_codes: JSON.stringify(stored) } };
    }
    return { verdict: 'invalid' };
  }

  /** Audit actions of a proof's refusals: MFA's own removal, or a step-up before another sensitive act. */
  interface ProofActions {
    locked: string;
    failed: string;
    /** Said in the failure's details (which act the step-up was for). */
    purpose?: string;
  }
  const disableActions: ProofActions = {
    locked: 'auth.mfa_disable_refused_locked',
    failed: 'auth.mfa_disable_failed',
  };

  /**
   * Checks the password, and the second factor when `factorNeeded`, under the account lockout sign-in uses:
   * a locked account is refused unchecked, and every failure counts (and is audited) like a failed sign-in.
   */
  async function prove(
    tx: TenantTx,
    tenantId: string,
    user: UserRow,
    proof: MfaDisableProof,
    subject: { actor: MfaActor; context: RequestContext; actions: ProofActions; factorNeeded: boolean },
  ): Promise<
    { ok: true; spend?: Partial<UserRow> } | { ok: false; retryAfter?: number; codeReused?: boolean }
  > {
    const { actor, context, actions } = subject;
    const purpose: Record<string, string> = actions.purpose === undefined ? {} : { purpose: actions.purpose };
    const policy = await loadPasswordPolicy(tx, tenantId);
    const lockedFor = await lockout.lockedForSeconds(lockoutKeyForUser(tenantId, user), policy);
    if (lockedFor > 0) {
      await hasher.verifyUnknownUser(proof.password);
      const entry = { actor, userId: user.id, action: actions.locked, outcome: 'denied' } as const;
      await record(
        tx,
        tenantId,
        actions.purpose === undefined ? entry : { ...entry, details: purpose },
        context,
      );
      return { ok: false, retryAfter: lockedFor };
    }
    // Both checks always run, so the answer does not say which of the two was wrong.
    const passwordOk =
      user.password_hash != null && (await hasher.verify(user.password_hash, proof.password));
    const factor = subject.factorNeeded
      ? await secondFactorMatches(tx, tenantId, user, proof)
      : { verdict: 'ok' as const };
    if (passwordOk && factor.verdict === 'ok')
      return factor.spend === undefined ? { ok: true } : { ok: true, spend: factor.spend };
    const { failures, delay } = await lockout.registerFailure(lockoutKeyForUser(tenantId, user), policy);
    const reason = passwordOk
      ? factor.verdict === 'reused'
        ? 'reused_second_factor'
        : 'wrong_second_factor'
      : 'wrong_password';
    const details = { ...purpose, reason, failures, lockedForSeconds: delay };
    const entry = { actor, userId: user.id, action: actions.failed, outcome: 'failure', details } as const;
    await record(tx, tenantId, entry, context);
    // A reused code is said so whatever the password: answering it only when the password is right would
    // turn an old code into a password oracle.
    return { ok: false, codeReused: factor.verdict === 'reused' };
  }

  /** The refusal a failed proof answers with. */
  function refusal(outcome: { retryAfter?: number; codeReused?: boolean }): AppError {
    if (outcome.retryAfter !== undefined)
      return new AppError('account_locked', 'Too many failed attempts; the account is temporarily locked.', {
        'retry-after': String(outcome.retryAfter),
      });
    if (outcome.codeReused === true) return new AppError('mfa_code_reused');
    return new AppError('invalid_credentials', 'The password or the code is not valid.');
  }

  return {
    /**
     * Starts enrolment: a fresh secret, sealed into `totp_pending_secret` (replacing any earlier unconfirmed
     * one). MFA stays off until `confirmEnrollment` sees a code from it.
     */
    /**
     * Starts enrolment. Needs the password: a stolen session alone must not be able to bind the thief's
     * authenticator to the account and lock the owner out.
     */
    async beginEnrollment(
      tenantId: string,
      actor: MfaActor,
      password: string,
      context: RequestContext,
    ): Promise<TotpEnrollment> {
      const stored = await storage.withTenant(
        tenantId,
        async (tx) => (await lockUser(tx, tenantId, actor.userId)).password_hash,
      );
      if (stored == null || !(await hasher.verify(stored, password))) {
        await storage.withTenant(tenantId, async (tx) => {
          const user = await lockUser(tx, tenantId, actor.userId);
          const policy = await loadPasswordPolicy(tx, tenantId);
          await registerFailedAttempt({ audit, lockout }, tx, {
            tenantId,
            user,
            policy,
            context,
            reason: 'wrong_password_mfa_enrolment',
          });
        });
        throw new AppError('invalid_credentials', 'The password is wrong.');
      }
      return storage.withTenant(tenantId, async (tx) => {
        const user = await lockUser(tx, tenantId, actor.userId);
        if (user.totp_enabled_at != null)
          throw new AppError('conflict', 'MFA is already enabled; disable it before enrolling again.');
        const enrollment = await createTotpEnrollment(await keyUriLabel(tx, tenantId, user));
        const location = at(tenantId, user.id, 'totp_pending_secret');
        await userStore.update(tx, tenantId, user.id, {
          totp_pending_secret: await fieldCipher.sealForUser(tx, location, user.id, enrollment.secret),
          updated_at: clock.now(),
        });
        const action = 'auth.mfa_enrollment_started';
        await record(tx, tenantId, { actor, userId: user.id, action, outcome: 'success' }, context);
        return enrollment;
      });
    },

    /**
     * Turns MFA on once a code from the pending secret checks out, and answers ten recovery codes — the only
     * time they are ever shown. The confirming code's step is recorded, so it cannot also sign anyone in.
     */
    async confirmEnrollment(
      tenantId: string,
      actor: MfaActor,
      code: string,
      context: RequestContext,
    ): Promise<{ recoveryCodes: string[] }> {
      const recoveryCodes = await storage.withTenant(tenantId, async (tx) => {
        const user = await lockUser(tx, tenantId, actor.userId);
        if (user.totp_enabled_at != null) throw new AppError('conflict', 'MFA is already enabled.');
        const pending = user.totp_pending_secret;
        if (pending == null) throw new AppError('conflict', 'No MFA enrolment is in progress.');
        const pendingAt = at(tenantId, user.id, 'totp_pending_secret');
        const secret = await fieldCipher.open(tx, pendingAt, pending, user.id);
        const verdict = verifyTotp({ secret, code, now: clock.now(), lastUsedStep: null });
        if (!verdict.ok) {
          // Returned, not thrown: the failure must commit to the audit log.
          const entry = {
            actor,
            userId: user.id,
            outcome: 'failure',
            details: { reason: 'wrong_code' },
          } as const;
          await record(tx, tenantId, { ...entry, action: 'auth.mfa_enrollment_failed' }, context);
          return undefined;
        }
        const recovery = await freshRecoveryCodes(tx, tenantId);
        const secretAt = at(tenantId, user.id, 'totp_secret');
        await userStore.update(tx, tenantId, user.id, {
          totp_secret: await fieldCipher.sealForUser(tx, secretAt, user.id, secret),
          totp_pending_secret: null,
          totp_last_step: verdict.step,
          totp_enabled_at: clock.now(),
          recovery_codes: recovery.hashes,
          updated_at: clock.now(),
        });
        const details = { method: 'totp', recoveryCodes: recovery.codes.length };
        const entry = { actor, userId: user.id, outcome: 'success', details } as const;
        await record(tx, tenantId, { ...entry, action: 'auth.mfa_enabled' }, context);
        return recovery.codes;
      });
      if (recoveryCodes === undefined) throw new AppError('invalid_credentials', 'The code is not valid.');
      return { recoveryCodes };
    },

    /**
     * Turns MFA off. Needs the password and a second factor, so a stolen session alone cannot strip it;
     * every other session of the user ends. Failures count towards the account lockout.
     */
    async disable(tenantId: string, actor: MfaActor, proof: MfaDisableProof, context: RequestContext) {
      const outcome = await storage.withTenant(tenantId, async (tx) => {
        const user = await lockUser(tx, tenantId, actor.userId);
        if (user.totp_enabled_at == null) throw new AppError('conflict', 'MFA is not enabled.');
        const subject = { actor, context, actions: disableActions, factorNeeded: true };
        const proven = await prove(tx, tenantId, user, proof, subject);
        if (!proven.ok) return proven;
        await userStore.update(tx, tenantId, user.id, {
          ...MFA_CLEARED,
          updated_at: clock.now(),
        });
        await lockout.clear(lockoutKeyForUser(tenantId, user));
        const details = { proof: proof.code !== undefined ? 'totp' : 'recovery_code' };
        const entry = { actor, userId: user.id, outcome: 'success', details } as const;
        await record(tx, tenantId, { ...entry, action: 'auth.mfa_disabled' }, context);
        return proven;
      });
      if (!outcome.ok) throw refusal(outcome);
      await sessions.revokeUserSessions(tenantId, actor.userId, {
        except: actor.sessionId,
        reason: 'mfa_changed',
      });
    },

    /**
     * Step-up before a sensitive self-service act (erasure of one's own account): the password, and when the
     * user has MFA also a current TOTP code or one recovery code, which is spent (the step recorded, the
     * recovery code struck out) so the same proof cannot serve twice. Without a second factor from a user
     * who has one, refused with `mfa_code_required` before the password is judged, so the answer is no
     * password oracle. Failures count towards the account lockout and are audited (`auth.step_up_failed`).
     */
    async stepUp(
      tenantId: string,
      actor: MfaActor,
      proof: MfaDisableProof,
      purpose: string,
      context: RequestContext,
    ): Promise<{ method: 'password' | 'password+totp' | 'password+recovery_code' }> {
      const actions = { locked: 'auth.step_up_refused_locked', failed: 'auth.step_up_failed', purpose };
      const outcome = await storage.withTenant(tenantId, async (tx) => {
        const user = await lockUser(tx, tenantId, actor.userId);
        const factorNeeded = user.totp_enabled_at != null;
        if (factorNeeded && proof.code === undefined && proof.recoveryCode === undefined)
          throw new AppError('mfa_code_required');
        const proven = await prove(tx, tenantId, user, proof, { actor, context, actions, factorNeeded });
        if (!proven.ok) return proven;
        if (proven.spend !== undefined) await userStore.update(tx, tenantId, user.id, proven.spend);
        await lockout.clear(lockoutKeyForUser(tenantId, user));
        return {
          ok: true as const,
          method: !factorNeeded
            ? ('password' as const)
            : proof.code !== undefined
              ? ('password+totp' as const)
              : ('password+recovery_code' as const),
        };
      });
      if (!outcome.ok) throw refusal(outcome);
      return { method: outcome.method };
    },

    /**
     * An administrator clears a user's MFA (lost phone and recovery codes). The user signs in with the
     * password alone afterwards and should enrol again; every session of theirs ends.
     */
    async adminReset(
      tenantId: string,
      admin: MfaActor & { isOwner: boolean },
      targetUserId: string,
      context: RequestContext,
    ) {
      await storage.withTenant(tenantId, async (tx) => {
        const user = await lockUser(tx, tenantId, targetUserId);
        // Restricted processing (GDPR Art. 18): the account is frozen as it is until the restriction is lifted.
        if (user.status === 'restricted') throw new AppError('account_restricted');
        // Stripping an owner's second factor is a step towards taking the tenant: owners only.
        if (!admin.isOwner && (await userStore.roles(tx, tenantId, targetUserId)).includes('owner')) {
          throw new AppError('forbidden', "Only owners can reset an owner's MFA.");
        }
        await userStore.update(tx, tenantId, user.id, { ...MFA_CLEARED, updated_at: clock.now() });
        const details = { wasEnabled: user.totp_enabled_at != null };
        const entry = { actor: admin, userId: user.id, outcome: 'success', details } as const;
        await record(tx, tenantId, { ...entry, action: 'auth.mfa_reset' }, context);
      });
      await sessions.revokeUserSessions(tenantId, targetUserId, { reason: 'mfa_reset' });
    },
  };
}

export type MfaService = ReturnType<typeof createMfaService>;
