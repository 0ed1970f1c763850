import { AppError } from '../../app-error.ts';
import type { TenantTx } from '../../storage/database.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { evaluatePassword, type PasswordContext, type PasswordPolicy } from './password-policy.ts';
import { loadPasswordPolicy } from './tenant-policy.ts';

/** What a password is judged against: the tenant's policy and name. */
export interface PasswordRules {
  policy: PasswordPolicy;
  tenantName: string | undefined;
}

export async function loadPasswordRules(tx: TenantTx, tenantId: string): Promise<PasswordRules> {
  const policy = await loadPasswordPolicy(tx, tenantId);
  const tenant = await tx.selectFrom('tenants').select('name').where('id', '=', tenantId).executeTakeFirst();
  return { policy, tenantName: tenant?.name };
}

/**
 * Refuses a new password that breaks the rules, naming every broken rule (the same words as
 * account-service's check). Needs no transaction: comparing against earlier passwords costs one argon2
 * verification each, which must not hold a database connection.
 */
export async function assertPasswordAllowed(
  password: string,
  rules: PasswordRules,
  context: PasswordContext,
  hasher: Pick<PasswordHasher, 'verify'>,
): Promise<void> {
  const violations = await evaluatePassword(
    password,
    rules.policy,
    { tenantName: rules.tenantName, ...context },
    { hasher },
  );
  if (violations.length > 0) {
    throw new AppError(
      'password_policy',
      `Password refused: ${violations.map((violation) => `${violation.rule} (${violation.message})`).join('; ')}.`,
    );
  }
}
