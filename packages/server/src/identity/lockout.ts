import type { Clock } from '../clock.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import type { RequestContext } from '../compliance/audit/request-context.ts';
import type { TenantTx } from '../storage/database.ts';
import { lockoutDelaySeconds, type PasswordPolicy } from './password-policy.ts';
import { type UserRow, userStore } from './user-store.ts';

/**
 * One failed proof of identity (password at sign-in or password change, second factor): counts towards
 * the account's lockout with growing back-off, audited in the same transaction. The row must have been
 * read with `userStore.lockById`, so parallel failures all count.
 */
export async function registerFailedAttempt(
  deps: { audit: AuditLog; clock: Clock },
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
  const failures = (user.failed_logins ?? 0) + 1;
  const delay = lockoutDelaySeconds(failures, policy);
  await userStore.update(tx, tenantId, user.id, {
    failed_logins: failures,
    locked_until: delay > 0 ? deps.clock.now() + delay * 1000 : null,
  });
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

/** Seconds the account is still locked for, or 0. */
export function lockedForSeconds(user: UserRow, clock: Clock): number {
  return Math.max(0, Math.ceil(((user.locked_until ?? 0) - clock.now()) / 1000));
}
