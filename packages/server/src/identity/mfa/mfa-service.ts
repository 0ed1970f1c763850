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

  /** The user's second factor: a fresh TOTP code, or an unused recovery code. `reused`: a used TOTP step. */
  async function secondFactorMatches(
    tx: TenantTx,
    tenantId: string,
    user: UserRow,
    proof: MfaDisableProof,
  ): Promise<'ok' | 'invalid' | 'reused'> {
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
      if (verdict.ok) return 'ok';
      return verdict.reason === 'replayed' ? 'reused' : 'invalid';
    }
    if (proof.recoveryCode !== undefined) {
      const stored = JSON.parse(user.recovery_codes ?? '[]') as (string | null)[];
      const pepper = (await security.keyring.tenantKey(tx, tenantId, 'index')).key;
      const hashes = stored.map((hash) => hash ?? '');
      return matchRecoveryCode(proof.recoveryCode, hashes, pepper) !== -1 ? 'ok' : 'invalid';
    }
    return 'invalid';
  }

  /**
   * Checks the password and the second factor for `disable`, under the account lockout sign-in uses: a
   * locked account is refused unchecked, and every failure counts (and is audited) like a failed sign-in.
   */
  async function proveForDisable(
    tx: TenantTx,
    tenantId: string,
    user: UserRow,
    proof: MfaDisableProof,
    actor: MfaActor,
    context: RequestContext,
  ): Promise<{ ok: true } | { ok: false; retryAfter?: number; codeReused?: boolean }> {
    const policy = await loadPasswordPolicy(tx, tenantId);
    const lockedFor = await lockout.lockedForSeconds(lockoutKeyForUser(tenantId, user), policy);
    if (lockedFor > 0) {
      await hasher.verifyUnknownUser(proof.password);
      const action = 'auth.mfa_disable_refused_locked';
      await record(tx, tenantId, { actor, userId: user.id, action, outcome: 'denied' }, context);
      return { ok: false, retryAfter: lockedFor };
    }
    // Both checks always run, so the answer does not say which of the two was wrong.
    const passwordOk =
      user.password_hash != null && (await hasher.verify(user.password_hash, proof.password));
    const factor = await secondFactorMatches(tx, tenantId, user, proof);
    if (passwordOk && factor === 'ok') return { ok: true };
    const { failures, delay } = await lockout.registerFailure(lockoutKeyForUser(tenantId, user), policy);
    const reason = passwordOk
      ? factor === 'reused'
        ? 'reused_second_factor'
        : 'wrong_second_factor'
      : 'wrong_password';
    const details = { reason, failures, lockedForSeconds: delay };
    const action = 'auth.mfa_disable_failed';
    await record(tx, tenantId, { actor, userId: user.id, action, outcome: 'failure', details }, context);
    // A reused code is said so whatever the password: answering it only when the password is right would
    // turn an old code into a password oracle.
    return { ok: false, codeReused: factor === 'reused' };
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
        const proven = await proveForDisable(tx, tenantId, user, proof, actor, context);
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
      if (!outcome.ok && outcome.retryAfter !== undefined) {
        throw new AppError('account_locked', 'Too many failed attempts; the account is temporarily locked.', {
          'retry-after': String(outcome.retryAfter),
        });
      }
      if (!outcome.ok && outcome.codeReused === true) throw new AppError('mfa_code_reused');
      if (!outcome.ok) throw new AppError('invalid_credentials', 'The password or the code is not valid.');
      await sessions.revokeUserSessions(tenantId, actor.userId, {
        except: actor.sessionId,
        reason: 'mfa_changed',
      });
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
