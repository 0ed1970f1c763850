import type { ComplianceControl, EvidenceValue, Permission } from '@parley/protocol';
import { isBuiltInRole } from '../../access/roles.ts';
import type { RetentionRules } from '../retention/retention-rules.ts';
import type { SupportReviewEvidence } from './evidence-sources.ts';
import { ageDays, controlOf, DAY_MS, isoOrNull, Verdict } from './evidence-verdict.ts';
import type { TenantFacts } from './tenant-facts.ts';

/** Built-in roles that administer people or evidence: they must enrol a second factor. */
const PRIVILEGED_BUILT_IN: readonly string[] = ['owner', 'admin', 'compliance_officer'];
/** A custom role holding any of these is privileged too. */
const PRIVILEGED_PERMISSIONS: readonly Permission[] = [
  'users.manage',
  'roles.manage',
  'tenant.manage',
  'mfa.reset',
  'users.erase',
  'privacy.export',
];
/** Roles whose holders are listed by id; the others by count only. */
const UNLISTED_ROLES: readonly string[] = ['member', 'guest'];
const SWEEP_STALE_MS = DAY_MS;
const DSR_DUE_SOON_MS = 7 * DAY_MS;
const OPEN_REQUEST: readonly string[] = ['received', 'in_progress'];

const activeIds = (facts: TenantFacts) =>
  new Set(facts.accounts.filter((account) => account.status === 'active').map((account) => account.id));

function privilegedRoles(facts: TenantFacts): string[] {
  const custom = facts.customRoles
    .filter((role) => !isBuiltInRole(role.name))
    .filter((role) =>
      (JSON.parse(role.permissions) as Permission[]).some((p) => PRIVILEGED_PERMISSIONS.includes(p)),
    )
    .map((role) => role.name);
  return [...PRIVILEGED_BUILT_IN, ...custom];
}

export function mfaControl(facts: TenantFacts): ComplianceControl {
  const verdict = new Verdict();
  const active = facts.accounts.filter((account) => account.status === 'active');
  const enrolled = new Set(active.filter((a) => a.totp_enabled_at != null).map((a) => a.id));
  const required = facts.passwordPolicy.mfaRequiredRoles;
  const privileged = privilegedRoles(facts);
  const activeSet = activeIds(facts);
  for (const role of privileged) {
    const holders = facts.roleHolders.filter((h) => h.role === role && activeSet.has(h.user_id));
    if (!required.includes(role) && holders.length > 0)
      verdict.notMet(`The privileged role ${role} is not required to use MFA.`);
  }
  const perRole: Record<string, EvidenceValue> = {};
  for (const role of new Set(facts.roleHolders.map((h) => h.role))) {
    const holders = facts.roleHolders.filter((h) => h.role === role && activeSet.has(h.user_id));
    const without = holders.filter((h) => !enrolled.has(h.user_id)).map((h) => h.user_id);
    perRole[role] = {
      required: required.includes(role),
      holders: holders.length,
      enrolled: holders.length - without.length,
    };
    if (required.includes(role) && without.length > 0)
      verdict.attention(
        `${without.length} holder(s) of the required role ${role} have not enrolled MFA yet.`,
      );
  }
  return controlOf('mfa', verdict, {
    activeAccounts: active.length,
    enrolledAccounts: enrolled.size,
    enrolledShare: active.length === 0 ? 0 : Math.round((enrolled.size / active.length) * 1000) / 1000,
    mfaRequiredRoles: [...required],
    privilegedRoles: privileged,
    perRole,
  });
}

export function passwordPolicyControl(facts: TenantFacts): ComplianceControl {
  const verdict = new Verdict();
  const policy = facts.passwordPolicy;
  if (policy.minLength < 12)
    verdict.attention(`Passwords may be as short as ${policy.minLength} characters.`);
  if (policy.minStrengthScore < 3)
    verdict.attention(`The strength estimate accepts score ${policy.minStrengthScore} (3 recommended).`);
  return controlOf('password_policy', verdict, {
    hashing: 'argon2id (rehashed on sign-in when parameters rise)',
    leakedPasswordList: true,
    minLength: policy.minLength,
    maxLength: policy.maxLength,
    minStrengthScore: policy.minStrengthScore,
    historyCount: policy.historyCount,
    maxAgeDays: policy.maxAgeDays,
    lockout: { ...policy.lockout },
    ipLockout: { ...policy.ipLockout },
  });
}

export function rolesControl(facts: TenantFacts): ComplianceControl {
  const verdict = new Verdict();
  const activeSet = activeIds(facts);
  const roles: Record<string, EvidenceValue> = {};
  for (const role of new Set(facts.roleHolders.map((h) => h.role))) {
    const holders = facts.roleHolders.filter((h) => h.role === role && activeSet.has(h.user_id));
    roles[role] = {
      builtIn: isBuiltInRole(role),
      holders: holders.length,
      ...(UNLISTED_ROLES.includes(role) ? {} : { holderIds: holders.map((h) => h.user_id) }),
    };
  }
  const owners = facts.roleHolders.filter((h) => h.role === 'owner' && activeSet.has(h.user_id));
  const powerful = new Set(
    facts.roleHolders
      .filter((h) => (h.role === 'owner' || h.role === 'admin') && activeSet.has(h.user_id))
      .map((h) => h.user_id),
  );
  if (owners.length === 0) verdict.attention('No active account holds the owner role.');
  if (powerful.size > 2 && powerful.size > activeSet.size / 4)
    verdict.attention(`${powerful.size} of ${activeSet.size} active accounts hold owner or admin.`);
  return controlOf('roles', verdict, {
    activeAccounts: activeSet.size,
    roles,
    customRoles: facts.customRoles
      .filter((role) => !isBuiltInRole(role.name))
      .map((role) => ({ name: role.name, permissions: JSON.parse(role.permissions) as string[] })),
  });
}

export function retentionControl(
  facts: TenantFacts,
  rules: RetentionRules,
  task: { last_finished_at: number | null; last_outcome: string | null } | undefined,
  now: number,
): ComplianceControl {
  const verdict = new Verdict();
  const sweep = facts.lastSweep;
  if (!sweep || now - sweep.started_at > SWEEP_STALE_MS)
    verdict.attention('The retention sweep has not run for this tenant in the last 24 hours.');
  if (task?.last_outcome === 'failed') verdict.attention('The last scheduled retention sweep failed.');
  return controlOf('retention', verdict, {
    rules: JSON.parse(JSON.stringify(rules)) as EvidenceValue,
    dialogOverrides: facts.dialogOverrides,
    lastSweepStartedAt: isoOrNull(sweep?.started_at),
    lastSweepFinishedAt: isoOrNull(sweep?.finished_at),
    scheduledTaskLastOutcome: task?.last_outcome ?? null,
  });
}

export function consentControl(facts: TenantFacts): ComplianceControl {
  const verdict = new Verdict();
  const active = [...activeIds(facts)];
  const granted = new Set(facts.grantedStates.map((s) => `${s.user_id}\n${s.purpose_key}\n${s.version}`));
  const owing = active.filter((userId) =>
    facts.requiredPurposes.some((p) => !granted.has(`${userId}\n${p.key}\n${p.version}`)),
  );
  if (owing.length > 0)
    verdict.attention(
      `${owing.length} active account(s) have not accepted a required purpose’s current version.`,
    );
  return controlOf('consent', verdict, {
    activePurposes: facts.activePurposes,
    requiredPurposes: facts.requiredPurposes.map((p) => ({ key: p.key, version: p.version })),
    activeAccounts: active.length,
    accountsCovered: active.length - owing.length,
    gate: 'An account that owes a required consent can use nothing but the consent routes until it accepts.',
  });
}

export function dataSubjectRequestsControl(facts: TenantFacts, now: number): ComplianceControl {
  const verdict = new Verdict();
  const dueOf = (r: TenantFacts['requests'][number]) => r.extended_until ?? r.deadline_at;
  const open = facts.requests.filter((r) => OPEN_REQUEST.includes(r.status));
  const overdue = open.filter((r) => dueOf(r) < now);
  const dueSoon = open.filter((r) => dueOf(r) >= now && dueOf(r) - now < DSR_DUE_SOON_MS);
  const closed = facts.requests.filter((r) => r.closed_at !== null);
  const late = closed.filter((r) => (r.closed_at ?? 0) > dueOf(r));
  if (overdue.length > 0) verdict.notMet(`${overdue.length} open request(s) are past their deadline.`);
  if (late.length > 0) verdict.attention(`${late.length} request(s) were closed late in the last year.`);
  if (dueSoon.length > 0) verdict.attention(`${dueSoon.length} open request(s) are due within 7 days.`);
  const request = (r: TenantFacts['requests'][number]) => ({
    requestId: r.id,
    kind: r.kind,
    receivedAt: isoOrNull(r.received_at),
    dueAt: isoOrNull(dueOf(r)),
    extended: r.extended_until !== null,
  });
  return controlOf('data_subject_requests', verdict, {
    open: open.length,
    overdue: overdue.map(request),
    dueWithin7Days: dueSoon.map(request),
    closedLastYear: closed.length,
    closedOnTimeLastYear: closed.length - late.length,
    closedLate: late.map(request),
  });
}

export function supportAccessControl(
  facts: TenantFacts,
  review: SupportReviewEvidence | undefined,
  now: number,
): ComplianceControl {
  const verdict = new Verdict();
  if (!review || review.lastSignedAt === null) verdict.attention('No review of support access recorded.');
  else if (review.overdue)
    verdict.attention(
      `The periodic support access review is overdue (every ${review.periodDays} days; last signed ${ageDays(review.lastSignedAt, now)} days ago).`,
    );
  const byStatus: Record<string, number> = {};
  for (const grant of facts.supportGrants) byStatus[grant.status] = (byStatus[grant.status] ?? 0) + 1;
  const inForce = facts.supportGrants.filter(
    (g) => g.status === 'approved' && g.expires_at !== null && g.expires_at > now,
  );
  return controlOf('support_access', verdict, {
    supportAccessAllowed: facts.supportPolicy ? facts.supportPolicy.allowed === 1 : true,
    grantsLastYear: byStatus,
    grantsInForce: inForce.map((g) => ({
      grantId: g.id,
      staffId: g.staff_id,
      scope: g.scope,
      approvedBy: g.decided_by,
      expiresAt: isoOrNull(g.expires_at),
    })),
    reviewPeriodDays: review?.periodDays ?? null,
    lastReviewSignedAt: isoOrNull(review?.lastSignedAt),
    lastReviewCoveredUntil: review?.coveredUntil ?? null,
  });
}
