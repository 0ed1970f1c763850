import type { Scope } from '@parley/protocol';
import type { Clock } from '../../clock.ts';
import type { AuditLog } from '../../compliance/audit/audit-log.ts';
import type { RequestContext } from '../../compliance/audit/request-context.ts';
import type { Counter } from '../../counters/counter.ts';
import type { SecurityCore } from '../../crypto/security-core.ts';
import { hashToken, mintTenantToken, tenantOfToken } from '../../crypto/token.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { UserRow } from '../user-store.ts';
import { userStore } from '../user-store.ts';
import { exceedsPasswordByteLimit, type PasswordHasher } from '../passwords/password-hasher.ts';
import { isPasswordExpired, type PasswordPolicy } from '../passwords/password-policy.ts';
import { type IssuedTokens, parseScopes, type SessionService } from '../sessions/session-service.ts';
import { loadPasswordPolicy } from '../passwords/tenant-policy.ts';
import { matchRecoveryCode, verifyTotp } from '../mfa/totp.ts';
import { SignInAddressThrottle } from '../passwords/signin-address-throttle.ts';
import { userTokenStore } from '../user-token-store.ts';
import {
  AccountLockout,
  type LockoutKey,
  lockoutKeyForAddress,
  lockoutKeyForUser,
  registerFailedAttempt,
} from '../passwords/lockout.ts';

/** What a grant answers. Errors use RFC 6749 §5.2 codes; the route turns them into the OAuth body. */
export type GrantResult =
  | {
      kind: 'tokens';
      tokens: IssuedTokens;
      notice?: 'password_change_required' | 'mfa_enrollment_required' | 'consent_required';
      /** Set when a user just proved their credentials (not on refresh): who, for the sign-in notice. */
      signedIn?: { tenantId: string; userId: string };
    }
  | { kind: 'mfa_required'; mfaToken: string; expiresIn: number }
  | {
      kind: 'error';
      /**
       * `mfa_code_reused`: our extension, like `mfa_required` (see `checkSecondFactor`); so is
       * `account_restricted`, told only to someone who gave the right password.
       */
      error: 'invalid_request' | 'invalid_grant' | 'invalid_scope' | 'mfa_code_reused' | 'account_restricted';
      description: string;
      retryAfter?: number;
    };

const DEFAULT_SCOPES: Scope[] = ['profile', 'chat', 'calls'];
const MFA_TOKEN_TTL_MS = 5 * 60_000;
const MFA_MAX_ATTEMPTS = 5;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/**
 * Accounts whose password is judged: active ones, and restricted ones, which are refused only once the
 * password proved right (anyone else gets the answer an unknown address gets).
 */
const signInStatuses = new Set<UserRow['status']>(['active', 'restricted']);
/** The one answer for unknown user, wrong password and unknown tenant: nothing to enumerate. */
const BAD_CREDENTIALS = {
  kind: 'error',
  error: 'invalid_grant',
  description: 'Invalid username or password.',
} as const;

export interface CredentialServiceDeps {
  storage: Storage;
  security: SecurityCore;
  hasher: PasswordHasher;
  sessions: SessionService;
  audit: AuditLog;
  counter: Counter;
  clock: Clock;
  /** Failed sign-ins one address may make across all tenants per 15 minutes (see `SignInAddressThrottle`). */
  signInIpCeiling: number;
}

export function createCredentialService(deps: CredentialServiceDeps) {
  const { storage, security, hasher, sessions, audit, counter, clock } = deps;
  const lockout = new AccountLockout(counter);
  const addressThrottle = new SignInAddressThrottle(counter, deps.signInIpCeiling);

  const recordFailure = (
    tx: TenantTx,
    tenantId: string,
    user: UserRow,
    policy: PasswordPolicy,
    context: RequestContext,
    reason: string,
  ) => registerFailedAttempt({ audit, lockout }, tx, { tenantId, user, policy, context, reason });

  /** Issues tokens once every factor passed, narrowing scopes when the account owes an action first. */
  async function finishSignIn(
    tx: TenantTx,
    tenantId: string,
    user: UserRow,
    policy: PasswordPolicy,
    scopes: Scope[],
    context: RequestContext,
    method: string,
  ): Promise<GrantResult> {
    const roles = await userStore.roles(tx, tenantId, user.id);
    const passwordExpired = isPasswordExpired(
      new Date(user.password_changed_at ?? user.created_at),
      new Date(clock.now()),
      policy,
    );
    const mfaOwed =
      roles.some((role) => policy.mfaRequiredRoles.includes(role)) && user.totp_enabled_at == null;
    const notice = passwordExpired
      ? ('password_change_required' as const)
      : mfaOwed
        ? ('mfa_enrollment_required' as const)
        : undefined;
    const granted: Scope[] = notice === undefined ? scopes : ['profile'];
    await lockout.clear(lockoutKeyForUser(tenantId, user));
    const tokens = await sessions.issue(tx, {
      tenantId,
      userId: user.id,
      clientId: null,
      scopes: granted,
      device: { userAgent: context.userAgent, ip: context.ip },
    });
    // Owed consent narrows the token by itself (see `IssuedTokens.notice`); the password and MFA notices,
    // which must be dealt with first, take precedence in what the answer says.
    const said = notice ?? tokens.notice;
    await audit.append(tx, tenantId, {
      actor: { type: 'user', id: user.id, sessionId: tokens.sessionId },
      action: 'auth.login_succeeded',
      target: { type: 'session', id: tokens.sessionId },
      outcome: 'success',
      ...context,
      details: { method, scopes: granted, ...(said === undefined ? {} : { notice: said }) },
    });
    return {
      kind: 'tokens',
      tokens,
      ...(said === undefined ? {} : { notice: said }),
      signedIn: { tenantId, userId: user.id },
    };
  }

  /**
   * While an address is locked, nothing is judged: the answer says when to come back. The same for an
   * address without an account (then nothing is audited: there is no one to attach the entry to).
   */
  async function refuseIfLocked(
    key: LockoutKey,
    policy: PasswordPolicy,
    audited: { tx: TenantTx; tenantId: string; userId: string; context: RequestContext } | undefined,
  ) {
    const lockedFor = await lockout.lockedForSeconds(key, policy);
    if (lockedFor <= 0) return undefined;
    if (audited) {
      await audit.append(audited.tx, audited.tenantId, {
        actor: { type: 'user', id: audited.userId },
        action: 'auth.login_refused_locked',
        target: { type: 'user', id: audited.userId },
        outcome: 'denied',
        ...audited.context,
      });
    }
    return {
      kind: 'error',
      error: 'invalid_grant',
      description: 'Too many failed attempts; the account is temporarily locked.',
      retryAfter: lockedFor,
    } as const;
  }

  /**
   * The password was right but processing of the account is restricted (GDPR Art. 18): no session, and the
   * holder of the password learns why, so they know to turn to the administrator instead of retrying.
   */
  async function refuseRestricted(audited: {
    tx: TenantTx;
    tenantId: string;
    userId: string;
    context: RequestContext;
  }): Promise<GrantResult> {
    await audit.append(audited.tx, audited.tenantId, {
      actor: { type: 'user', id: audited.userId },
      action: 'auth.login_refused_restricted',
      target: { type: 'user', id: audited.userId },
      outcome: 'denied',
      ...audited.context,
    });
    return {
      kind: 'error',
      error: 'account_restricted',
      description: 'Processing of this account is restricted; it cannot sign in.',
    };
  }

  /** The password was right and the account has a second factor: hand out a short-lived MFA token. */
  async function startMfa(
    tx: TenantTx,
    tenantId: string,
    userId: string,
    scopes: Scope[],
  ): Promise<GrantResult> {
    const mfaToken = mintTenantToken('mfa', tenantId);
    await userTokenStore.insert(tx, {
      token_hash: hashToken(mfaToken),
      tenant_id: tenantId,
      user_id: userId,
      purpose: 'mfa',
      payload: JSON.stringify({ scopes }),
      attempts: 0,
      expires_at: clock.now() + MFA_TOKEN_TTL_MS,
      used_at: null,
    });
    return { kind: 'mfa_required', mfaToken, expiresIn: MFA_TOKEN_TTL_MS / 1000 };
  }

  /** The password grant for an address that has an active account with a password. */
  async function judgePassword(
    input: { tenantId: string; password: string; context: RequestContext },
    policy: PasswordPolicy,
    scopes: Scope[],
    found: UserRow,
    storedHash: string,
  ): Promise<GrantResult> {
    const passwordOk = await hasher.verify(storedHash, input.password);
    const rehash =
      passwordOk && hasher.needsRehash(storedHash) ? await hasher.hash(input.password) : undefined;
    return storage.withTenant(input.tenantId, async (tx): Promise<GrantResult> => {
      const user = await userStore.lockById(tx, input.tenantId, found.id, storage.dialect);
      // Changed meanwhile (password reset, deactivation): judge nothing on stale facts.
      if (user?.password_hash !== storedHash || !signInStatuses.has(user.status)) return BAD_CREDENTIALS;
      const audited = { tx, tenantId: input.tenantId, userId: user.id, context: input.context };
      const locked = await refuseIfLocked(lockoutKeyForUser(input.tenantId, user), policy, audited);
      if (locked) return locked;
      if (!passwordOk) {
        await recordFailure(tx, input.tenantId, user, policy, input.context, 'wrong_password');
        return BAD_CREDENTIALS;
      }
      if (user.status === 'restricted') return refuseRestricted(audited);
      if (rehash !== undefined)
        await userStore.update(tx, input.tenantId, user.id, { password_hash: rehash });
      if (user.totp_enabled_at != null) return startMfa(tx, input.tenantId, user.id, scopes);
      return finishSignIn(tx, input.tenantId, user, policy, scopes, input.context, 'password');
    });
  }

  /** Judges a password sign-in the address throttle let through: unknown tenant, unknown address, or account. */
  async function judgeSignIn(
    input: { tenantId: string; username: string; password: string; context: RequestContext },
    policy: PasswordPolicy,
    scopes: Scope[],
  ): Promise<GrantResult> {
    // Read, then hash outside any transaction, then write: argon2's ~20 ms must not hold a database
    // connection (SQLite has one) while other requests wait.
    const found = await storage.withTenant(input.tenantId, async (tx) => {
      const tenant = await tx
        .selectFrom('tenants')
        .select('status')
        .where('id', '=', input.tenantId)
        .executeTakeFirst();
      if (tenant?.status !== 'active') return undefined;
      const emailIndex = await security.blindIndex.compute(tx, input.tenantId, 'email', input.username);
      const user = await userStore.findByEmailIndex(tx, input.tenantId, emailIndex);
      return { key: lockoutKeyForAddress(input.tenantId, emailIndex), user };
    });
    const user = found?.user;
    if (!found) {
      await hasher.verifyUnknownUser(input.password);
      return BAD_CREDENTIALS;
    }
    if (!user || user.password_hash == null || !signInStatuses.has(user.status)) {
      // No account here: the address still counts failures and locks like one (see `LockoutKey`).
      await hasher.verifyUnknownUser(input.password);
      const locked = await refuseIfLocked(found.key, policy, undefined);
      if (!locked) await lockout.registerFailure(found.key, policy);
      return locked ?? BAD_CREDENTIALS;
    }
    return judgePassword(input, policy, scopes, user, user.password_hash);
  }

  return {
    /** RFC 6749 §4.3 resource-owner password grant, for first-party apps. */
    async passwordGrant(input: {
      tenantId: string;
      username: string;
      password: string;
      scope?: string | undefined;
      context: RequestContext;
    }): Promise<GrantResult> {
      // Refused before any hashing: a megabyte password must not buy a megabyte of argon2 work.
      if (exceedsPasswordByteLimit(input.password)) {
        return { kind: 'error', error: 'invalid_request', description: 'The password is too long.' };
      }
      const scopes = input.scope === undefined ? DEFAULT_SCOPES : parseScopes(input.scope);
      if (input.scope !== undefined && scopes.length !== input.scope.split(' ').filter(Boolean).length) {
        return { kind: 'error', error: 'invalid_scope', description: 'Unknown scope requested.' };
      }
      if (!uuidPattern.test(input.tenantId)) {
        await hasher.verifyUnknownUser(input.password);
        return BAD_CREDENTIALS;
      }
      const policy = await storage.withTenant(input.tenantId, (tx) => loadPasswordPolicy(tx, input.tenantId));
      const reserved = await addressThrottle.reserve(input.tenantId, input.context.ip, policy);
      if (reserved.refusal) {
        return {
          kind: 'error',
          error: 'invalid_grant',
          description: 'Too many failed sign-ins from this address; try again later.',
          retryAfter: reserved.refusal.retryAfter,
        };
      }
      const result = await judgeSignIn(input, policy, scopes);
      // Only a failed guess keeps its place. If judging threw, the place is kept too: an error the attacker
      // could provoke must not buy guesses beyond the limit, and the window ends it anyway.
      const failedGuess =
        result.kind === 'error' && result.error === 'invalid_grant' && result.retryAfter === undefined;
      if (!failedGuess) await reserved.release();
      return result;
    },

    /** The MFA step: the token from `mfa_required` plus a TOTP code or a recovery code. */
    async mfaGrant(input: {
      mfaToken: string;
      otp?: string | undefined;
      recoveryCode?: string | undefined;
      context: RequestContext;
    }): Promise<GrantResult> {
      const tenantId = tenantOfToken('mfa', input.mfaToken);
      const invalid = {
        kind: 'error',
        error: 'invalid_grant',
        description: 'The MFA token is invalid or expired.',
      } as const;
      if (tenantId === undefined) return invalid;
      return storage.withTenant(tenantId, async (tx): Promise<GrantResult> => {
        const found = await userTokenStore.find(tx, tenantId, hashToken(input.mfaToken), 'mfa');
        if (!found) return invalid;
        // Locked: every attempt for this user is serialised, so parallel guesses cannot share one check;
        // the token is read again under the lock, so its attempts and use are current.
        const user = await userStore.lockById(tx, tenantId, found.user_id, storage.dialect);
        const token = await userTokenStore.find(tx, tenantId, found.token_hash, 'mfa');
        if (
          !token ||
          token.used_at !== null ||
          token.expires_at <= clock.now() ||
          token.attempts >= MFA_MAX_ATTEMPTS
        ) {
          return invalid;
        }
        if (!user || user.status !== 'active' || user.totp_secret == null) return invalid;
        const policy = await loadPasswordPolicy(tx, tenantId);
        const audited = { tx, tenantId, userId: user.id, context: input.context };
        const locked = await refuseIfLocked(lockoutKeyForUser(tenantId, user), policy, audited);
        if (locked) return locked;
        const factor = await checkSecondFactor(tx, tenantId, user, input);
        if (factor !== 'ok') {
          // A reused code is a failed proof like a wrong one: it counts on the token and towards the lockout.
          await userTokenStore.update(tx, tenantId, token.token_hash, { attempts: token.attempts + 1 });
          const reused = factor === 'reused';
          const reason = reused ? 'reused_second_factor' : 'wrong_second_factor';
          await recordFailure(tx, tenantId, user, policy, input.context, reason);
          return reused
            ? {
                kind: 'error',
                error: 'mfa_code_reused',
                description: 'This code was already used; wait for the next one.',
              }
            : { kind: 'error', error: 'invalid_grant', description: 'The code is not valid.' };
        }
        await userTokenStore.update(tx, tenantId, token.token_hash, { used_at: clock.now() });
        const { scopes } = JSON.parse(token.payload ?? '{}') as { scopes?: Scope[] };
        return finishSignIn(
          tx,
          tenantId,
          user,
          policy,
          scopes ?? DEFAULT_SCOPES,
          input.context,
          input.otp ? 'password+totp' : 'password+recovery_code',
        );
      });
    },
  };

  /**
   * Checks a TOTP code (never the same step twice) or consumes one recovery code. `reused` is a TOTP code
   * that was right for a step already used: said apart from a wrong code so the user waits for the next one
   * instead of retyping it. That tells only someone who already holds a valid code, after the password.
   */
  async function checkSecondFactor(
    tx: TenantTx,
    tenantId: string,
    user: UserRow,
    input: { otp?: string | undefined; recoveryCode?: string | undefined },
  ): Promise<'ok' | 'invalid' | 'reused'> {
    if (input.otp !== undefined) {
      const secret = await security.fieldCipher.open(
        tx,
        { tenantId, table: 'users', column: 'totp_secret', rowId: user.id },
        user.totp_secret ?? '',
        user.id,
      );
      const verdict = verifyTotp({
        secret,
        code: input.otp,
        now: clock.now(),
        lastUsedStep: user.totp_last_step ?? null,
      });
      if (!verdict.ok) return verdict.reason === 'replayed' ? 'reused' : 'invalid';
      await userStore.update(tx, tenantId, user.id, { totp_last_step: verdict.step });
      return 'ok';
    }
    if (input.recoveryCode !== undefined) {
      const stored = JSON.parse(user.recovery_codes ?? '[]') as (string | null)[];
      const pepper = (await security.keyring.tenantKey(tx, tenantId, 'index')).key;
      const index = matchRecoveryCode(
        input.recoveryCode,
        stored.map((hash) => hash ?? ''),
        pepper,
      );
      if (index === -1 || stored[index] == null) return 'invalid';
      stored[index] = null;
      await userStore.update(tx, tenantId, user.id, { recovery_codes: JSON.stringify(stored) });
      return 'ok';
    }
    return 'invalid';
  }
}

export type CredentialService = ReturnType<typeof createCredentialService>;
