import type { AcceptedPurpose } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { AuditInput } from '../compliance/audit/audit-entry.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import type { ConsentService } from '../compliance/gdpr/consent-service.ts';
import type { Counter } from '../counters/counter.ts';
import type { RequestContext } from '../compliance/audit/request-context.ts';
import type { SecurityCore } from '../crypto/security-core.ts';
import { hashToken, mintTenantToken } from '../crypto/token.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import { tenantSettingsStore } from '../tenancy/tenant-settings-store.ts';
import type { PasswordHasher } from './passwords/password-hasher.ts';
import { evaluatePassword, type PasswordContext } from './passwords/password-policy.ts';
import type { SessionService } from './sessions/session-service.ts';
import { loadPasswordPolicy } from './passwords/tenant-policy.ts';
import type { UserService } from './user-service.ts';
import { userStore } from './user-store.ts';
import { userTokenStore } from './user-token-store.ts';
import { AccountLockout, lockoutKeyForUser, registerFailedAttempt } from './passwords/lockout.ts';
import { assertPasswordAllowed, loadPasswordRules } from './passwords/password-check.ts';

const INVITE_TTL_MS = 7 * 24 * 3600 * 1000;

export interface AccountServiceDeps {
  storage: Storage;
  security: SecurityCore;
  hasher: PasswordHasher;
  sessions: SessionService;
  users: UserService;
  /** What a new account must accept, and the ledger its acceptance goes to (same transaction). */
  consents: Pick<ConsentService, 'judgeAcceptance' | 'recordAcceptance'>;
  audit: AuditLog;
  /** Where failed password checks count towards the account lockout (see `AccountLockout`). */
  counter: Counter;
  clock: Clock;
}

export interface NewAccount {
  displayName: string;
  email: string;
  password: string;
}

/** An account its own person creates: they accept the tenant's processing purposes as they do. */
export interface SelfMadeAccount extends NewAccount {
  /** Every current required purpose must be here (`consent_required` otherwise). */
  acceptedPurposes: readonly AcceptedPurpose[];
}

/**
 * Accounts with passwords: owner bootstrap, sign-up, password changes. Every refusal of a password names the
 * policy rules it broke.
 */
export function createAccountService(deps: AccountServiceDeps) {
  const { storage, security, hasher, sessions, users, consents, audit, clock } = deps;
  const lockout = new AccountLockout(deps.counter);

  async function checkPassword(tx: TenantTx, tenantId: string, password: string, context: PasswordContext) {
    const policy = await loadPasswordPolicy(tx, tenantId);
    const tenant = await tx
      .selectFrom('tenants')
      .select('name')
      .where('id', '=', tenantId)
      .executeTakeFirst();
    const violations = await evaluatePassword(
      password,
      policy,
      { tenantName: tenant?.name, ...context },
      { hasher },
    );
    if (violations.length > 0) {
      throw new AppError(
        'password_policy',
        `Password refused: ${violations.map((violation) => `${violation.rule} (${violation.message})`).join('; ')}.`,
      );
    }
    return policy;
  }

  /** Creates a user with a password and roles inside `tx`; the caller audits the act that caused it. */
  async function createWithPassword(
    tx: TenantTx,
    tenantId: string,
    account: NewAccount,
    roles: string[],
  ): Promise<string> {
    await checkPassword(tx, tenantId, account.password, {
      displayName: account.displayName,
      email: account.email,
    });
    const user = await users.createUserIn(tx, tenantId, {
      displayName: account.displayName,
      email: account.email,
    });
    const now = clock.now();
    await userStore.update(tx, tenantId, user.id, {
      password_hash: await hasher.hash(account.password),
      password_changed_at: now,
      password_history: '[]',
      failed_logins: 0,
    });
    for (const role of roles)
      await tx.insertInto('user_roles').values({ tenant_id: tenantId, user_id: user.id, role }).execute();
    return user.id;
  }

  /**
   * Checks the caller's current password before a sensitive change. A wrong one counts towards the account
   * lockout (a stolen session must not become a password-guessing oracle). The argon2 work runs outside any
   * transaction.
   */
  async function checkCurrentPassword(
    tenantId: string,
    userId: string,
    password: string,
    context: RequestContext,
  ) {
    const read = await storage.withTenant(tenantId, async (tx) => {
      const row = await userStore.findById(tx, tenantId, userId);
      if (!row?.password_hash) throw new AppError('not_found');
      const user = await users.getUserIn(tx, tenantId, userId);
      return { row, user, rules: await loadPasswordRules(tx, tenantId) };
    });
    const storedHash = read.row.password_hash ?? '';
    const lockKey = lockoutKeyForUser(tenantId, read.row);
    const lockedFor = await lockout.lockedForSeconds(lockKey, read.rules.policy);
    if (lockedFor > 0) throw new AppError('account_locked', undefined, { 'retry-after': String(lockedFor) });
    if (!(await hasher.verify(storedHash, password))) {
      await storage.withTenant(tenantId, async (tx) => {
        const user = await userStore.lockById(tx, tenantId, userId, storage.dialect);
        if (user) {
          await registerFailedAttempt({ audit, lockout }, tx, {
            tenantId,
            user,
            policy: read.rules.policy,
            context,
            reason: 'wrong_current_password',
          });
        }
      });
      throw new AppError('invalid_credentials', 'The current password is wrong.');
    }
    return { ...read, storedHash, lockKey };
  }

  return {
    /**
     * Claims a new tenant with the one-time setup token printed by `parley tenant create`: creates the first
     * owner. The token is single-use and expires.
     */
    async setupOwner(
      tenantId: string,
      setupToken: string,
      account: SelfMadeAccount,
      context: RequestContext,
    ): Promise<string> {
      return storage.withTenant(tenantId, async (tx) => {
        const token = await tx
          .selectFrom('tenant_setup_tokens')
          .selectAll()
          .where('tenant_id', '=', tenantId)
          .where('token_hash', '=', hashToken(setupToken))
          .executeTakeFirst();
        if (!token)
          throw new AppError('invalid_credentials', 'The setup token is not valid for this tenant.');
        if (token.used_at !== null || token.expires_at <= clock.now()) throw new AppError('gone');
        const claimed = await tx
          .updateTable('tenant_setup_tokens')
          .set({ used_at: clock.now() })
          .where('id', '=', token.id)
          // Claimed in one statement: of two simultaneous setups, exactly one gets the tenant.
          .where('used_at', 'is', null)
          .returning('id')
          .execute();
        if (claimed.length === 0) throw new AppError('gone');
        const accepted = await consents.judgeAcceptance(tx, tenantId, account.acceptedPurposes);
        await tenantSettingsStore.upsert(tx, {
          tenant_id: tenantId,
          signup_mode: 'admin_created',
          password_policy: '{}',
          access_token_ttl_seconds: 3600,
          idle_timeout_seconds: 900,
          refresh_token_ttl_seconds: 2_592_000,
          updated_at: clock.now(),
        });
        const userId = await createWithPassword(tx, tenantId, account, ['owner']);
        await consents.recordAcceptance(tx, tenantId, userId, accepted, 'setup', context);
        await audit.append(tx, tenantId, {
          actor: { type: 'user', id: userId },
          action: 'tenant.owner_setup',
          target: { type: 'user', id: userId },
          outcome: 'success',
          ...context,
        });
        return userId;
      });
    },

    /** An account made by an admin (or the tenant's server), audited as the actor's act. */
    async createAccount(
      tenantId: string,
      account: NewAccount,
      roles: string[],
      actor: AuditInput['actor'],
      context: RequestContext,
    ): Promise<string> {
      return storage.withTenant(tenantId, async (tx) => {
        const userId = await createWithPassword(tx, tenantId, account, roles);
        await audit.append(tx, tenantId, {
          actor,
          action: 'user.created',
          target: { type: 'user', id: userId },
          outcome: 'success',
          ...context,
          details: { roles },
        });
        return userId;
      });
    },

    /** Self-service sign-up, when the tenant's signup mode is `open`. */
    /**
     * Self-service sign-up. `open`: anyone; `invite_only`: with an unused, unexpired invite for this very
     * address; `admin_created`: never (admins create accounts).
     */
    async signup(
      tenantId: string,
      account: SelfMadeAccount & { inviteToken?: string | undefined },
      context: RequestContext,
    ): Promise<string> {
      return storage.withTenant(tenantId, async (tx) => {
        const settings = await tenantSettingsStore.get(tx, tenantId);
        const mode = settings?.signup_mode ?? 'admin_created';
        let roles = ['member'];
        if (mode === 'admin_created') throw new AppError('forbidden', 'This tenant does not allow sign-up.');
        if (mode === 'invite_only') {
          const invite =
            account.inviteToken === undefined
              ? undefined
              : await userTokenStore.find(tx, tenantId, hashToken(account.inviteToken), 'invite');
          const payload = JSON.parse(invite?.payload ?? '{}') as { emailIndex?: string; roles?: string[] };
          const emailIndex = await security.blindIndex.compute(tx, tenantId, 'email', account.email);
          if (!invite || payload.emailIndex !== emailIndex)
            throw new AppError('forbidden', 'Sign-up needs an invitation for this address.');
          if (invite.used_at !== null || invite.expires_at <= clock.now()) throw new AppError('gone');
          // Claimed in one statement: two simultaneous sign-ups with one invite cannot both pass.
          const claimed = await tx
            .updateTable('user_tokens')
            .set({ used_at: clock.now() })
            .where('tenant_id', '=', tenantId)
            .where('token_hash', '=', invite.token_hash)
            .where('used_at', 'is', null)
            .returning('token_hash')
            .execute();
          if (claimed.length === 0) throw new AppError('gone');
          roles = payload.roles ?? roles;
        }
        const accepted = await consents.judgeAcceptance(tx, tenantId, account.acceptedPurposes);
        const userId = await createWithPassword(tx, tenantId, account, roles);
        await consents.recordAcceptance(
          tx,
          tenantId,
          userId,
          accepted,
          mode === 'invite_only' ? 'claim' : 'signup',
          context,
        );
        await audit.append(tx, tenantId, {
          actor: { type: 'user', id: userId },
          action: 'user.signed_up',
          target: { type: 'user', id: userId },
          outcome: 'success',
          ...context,
          details: { mode },
        });
        return userId;
      });
    },

    /** An invitation for one address (invite-only tenants); the token is returned once, stored hashed. */
    async invite(
      tenantId: string,
      email: string,
      roles: string[],
      actor: AuditInput['actor'],
      context: RequestContext,
    ): Promise<{ inviteToken: string; expiresAt: string }> {
      const token = mintTenantToken('verify', tenantId);
      const expiresAt = clock.now() + INVITE_TTL_MS;
      await storage.withTenant(tenantId, async (tx) => {
        const emailIndex = await security.blindIndex.compute(tx, tenantId, 'email', email);
        await userTokenStore.insert(tx, {
          token_hash: hashToken(token),
          tenant_id: tenantId,
          user_id: '',
          purpose: 'invite',
          payload: JSON.stringify({ emailIndex, roles }),
          attempts: 0,
          expires_at: expiresAt,
          used_at: null,
        });
        await audit.append(tx, tenantId, {
          actor,
          action: 'user.invited',
          outcome: 'success',
          ...context,
          details: { roles },
        });
      });
      return { inviteToken: token, expiresAt: new Date(expiresAt).toISOString() };
    },

    /** Deactivated users cannot sign in and lose every session at once; reactivation restores sign-in. */
    async setStatus(
      tenantId: string,
      userId: string,
      status: 'active' | 'deactivated',
      actor: AuditInput['actor'],
      context: RequestContext,
      actorIsOwner = false,
    ) {
      await storage.withTenant(tenantId, async (tx) => {
        const row = await userStore.findById(tx, tenantId, userId);
        // An admin must not be able to lock the owners out of their own tenant.
        if ((await userStore.roles(tx, tenantId, userId)).includes('owner') && !actorIsOwner) {
          throw new AppError('forbidden', 'Only owners can deactivate or reactivate an owner.');
        }
        if (!row || row.status === 'erased') throw new AppError('not_found');
        // A restricted account changes only by lifting the restriction (compliance/gdpr), which restores it.
        if (row.status === 'restricted') throw new AppError('account_restricted');
        await userStore.update(tx, tenantId, userId, { status, updated_at: clock.now() });
        await audit.append(tx, tenantId, {
          actor,
          action: status === 'active' ? 'user.reactivated' : 'user.deactivated',
          target: { type: 'user', id: userId },
          outcome: 'success',
          ...context,
        });
      });
      if (status === 'deactivated')
        await sessions.revokeUserSessions(tenantId, userId, { reason: 'deactivated' });
    },

    /** Proves the caller still knows their password before a sensitive change (an e-mail change). */
    async verifyPassword(
      tenantId: string,
      userId: string,
      password: string,
      context: RequestContext,
    ): Promise<void> {
      const { lockKey } = await checkCurrentPassword(tenantId, userId, password, context);
      await lockout.clear(lockKey);
    },

    /** Changes the caller's password; every other session of theirs ends. */
    /**
     * Changes the caller's password; every other session of theirs ends. A wrong current password counts
     * towards the account lockout (a stolen session must not become a password-guessing oracle). The
     * argon2 work runs outside any transaction.
     */
    async changePassword(
      tenantId: string,
      userId: string,
      sessionId: string,
      current: string,
      next: string,
      context: RequestContext,
    ): Promise<void> {
      const read = await checkCurrentPassword(tenantId, userId, current, context);
      const { storedHash, lockKey } = read;
      const history = JSON.parse(read.row.password_history ?? '[]') as string[];
      await assertPasswordAllowed(
        next,
        read.rules,
        {
          displayName: read.user.displayName ?? undefined,
          email: read.user.email ?? undefined,
          previousHashes: [storedHash, ...history],
        },
        hasher,
      );
      const newHash = await hasher.hash(next);
      await storage.withTenant(tenantId, async (tx) => {
        const user = await userStore.lockById(tx, tenantId, userId, storage.dialect);
        // Changed by a concurrent reset or change: this change was judged against a password that is gone.
        if (user?.password_hash !== storedHash)
          throw new AppError('conflict', 'The password was changed meanwhile.');
        await userStore.update(tx, tenantId, userId, {
          password_hash: newHash,
          password_changed_at: clock.now(),
          password_history: JSON.stringify(
            [storedHash, ...history].slice(0, Math.max(read.rules.policy.historyCount, 1)),
          ),
        });
        await audit.append(tx, tenantId, {
          actor: { type: 'user', id: userId, sessionId },
          action: 'auth.password_changed',
          target: { type: 'user', id: userId },
          outcome: 'success',
          ...context,
        });
      });
      await lockout.clear(lockKey);
      await sessions.revokeUserSessions(tenantId, userId, { except: sessionId, reason: 'password_changed' });
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
