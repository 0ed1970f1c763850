import type { AuditLog } from '../../compliance/audit/audit-log.ts';
import type { RequestContext } from '../../compliance/audit/request-context.ts';
import type { Counter } from '../../counters/counter.ts';
import type { TenantTx } from '../../storage/database.ts';
import { lockoutDelaySeconds, type PasswordPolicy } from './password-policy.ts';
import type { UserRow } from '../user-store.ts';

declare const lockoutKeyBrand: unique symbol;

/**
 * Whose failures a lockout counts: the tenant and the blind index of the e-mail address (a keyed HMAC of
 * the normalised address), whether or not an account has that address. Keyed by address rather than by
 * user id, an unknown address fails, locks and answers exactly like a known one, so six tries tell an
 * attacker nothing. Only `lockoutKeyForAddress` and `lockoutKeyForUser` make one.
 */
export type LockoutKey = string & { readonly [lockoutKeyBrand]: true };

/** The key for an address typed at sign-in, given its blind index. */
export const lockoutKeyForAddress = (tenantId: string, emailIndex: string): LockoutKey =>
  `lockout:${tenantId}:email:${emailIndex}` as LockoutKey;

/**
 * The key for a known user: the one their address has at sign-in, so failed second factors and password
 * checks elsewhere count towards the same lockout. A user without an address cannot sign in with a
 * password; their other proofs count under their id.
 */
export const lockoutKeyForUser = (tenantId: string, user: Pick<UserRow, 'id' | 'email_index'>) =>
  user.email_index == null
    ? (`lockout:${tenantId}:user:${user.id}` as LockoutKey)
    : lockoutKeyForAddress(tenantId, user.email_index);

/**
 * The key for an operator staff account (platform/), given the SHA-256 of its lower-cased e-mail address: staff
 * belong to no tenant, and the address itself stays out of the counter store.
 */
export const lockoutKeyForStaff = (emailHash: string): LockoutKey =>
  `lockout:platform:staff:${emailHash}` as LockoutKey;

const DAY_MS = 24 * 3600_000;

/**
 * Account lockout with growing back-off (see `lockoutDelaySeconds`) on the counter store: in memory on one
 * node, in Redis across nodes, so attempts spread over a cluster all count. Two counters per key: the
 * consecutive failures, remembered for a day (or twice the longest delay) after the first, and the lock
 * itself, a window as long as the delay it was set for. Increments are atomic, so parallel failures all
 * count. If Redis is unreachable the error propagates: a lockout that cannot count refuses rather than
 * opens.
 */
export class AccountLockout {
  constructor(private readonly counter: Counter) {}

  /**
   * Seconds the key is locked for, or 0. While locked, the answer is the length of the current lock (the
   * counter store keeps no start time): an upper bound, the same for every key in the same state.
   */
  async lockedForSeconds(key: LockoutKey, policy: Pick<PasswordPolicy, 'lockout'>): Promise<number> {
    // A zero window: reading an absent lock must not open a window that a later lock would inherit.
    if ((await this.counter.peek(`${key}:lock`, 0)) === 0) return 0;
    const failures = await this.counter.peek(`${key}:failures`, memoryMs(policy));
    return Math.max(lockoutDelaySeconds(failures, policy), 1);
  }

  /** Counts one failure; returns the consecutive failures and the lock (seconds) it started, if any. */
  async registerFailure(
    key: LockoutKey,
    policy: Pick<PasswordPolicy, 'lockout'>,
  ): Promise<{ failures: number; delay: number }> {
    const failures = await this.counter.increment(`${key}:failures`, memoryMs(policy));
    const delay = lockoutDelaySeconds(failures, policy);
    if (delay > 0) await this.counter.increment(`${key}:lock`, delay * 1000);
    return { failures, delay };
  }

  /** After a success or a password reset: no failures, no lock. */
  async clear(key: LockoutKey): Promise<void> {
    await this.counter.reset(`${key}:failures`);
    await this.counter.reset(`${key}:lock`);
  }
}

/** Failures are forgotten this long after the first: at least a day, and always past the longest lock. */
const memoryMs = (policy: Pick<PasswordPolicy, 'lockout'>): number =>
  Math.max(DAY_MS, 2 * policy.lockout.maxDelaySeconds * 1000);

/**
 * One failed proof of identity by a known user (password at sign-in or password change, second factor):
 * counts towards the lockout of the user's address with growing back-off, audited in the same
 * transaction. Returns the seconds of the lock it started, or 0.
 */
export async function registerFailedAttempt(
  deps: { audit: AuditLog; lockout: AccountLockout },
  tx: TenantTx,
  failure: {
    tenantId: string;
    user: UserRow;
    policy: PasswordPolicy;
    context: RequestContext;
    reason: string;
  },
): Promise<number> {
  const { tenantId, user, policy, context, reason } = failure;
  const { failures, delay } = await deps.lockout.registerFailure(lockoutKeyForUser(tenantId, user), policy);
  await deps.audit.append(tx, tenantId, {
    actor: { type: 'user', id: user.id },
    action: delay > 0 ? 'auth.account_locked' : 'auth.login_failed',
    target: { type: 'user', id: user.id },
    outcome: 'failure',
    ...context,
    details: { reason, failures, lockedForSeconds: delay },
  });
  return delay;
}
