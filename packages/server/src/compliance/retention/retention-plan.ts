import type { RetentionPlanBody } from '@parley/protocol';
import type { Clock } from '../../clock.ts';
import type { Storage } from '../../storage/database.ts';
import type { LegalHoldService } from './legal-hold-service.ts';
import { retentionCandidates } from './retention-candidates.ts';
import { sweepSteps } from './retention-rules.ts';
import type { RetentionService } from './retention-service.ts';

/** The plan counts up to this many rows per rule (more shows as this many). */
export const PLAN_LIMIT = 1_000_000;

export interface RetentionPlanDeps {
  storage: Storage;
  clock: Clock;
  rules: Pick<RetentionService, 'rulesIn' | 'overridesIn'>;
  holds: Pick<LegalHoldService, 'heldIn'>;
}

/**
 * The dry run: what the next sweep would delete in a tenant now, per rule, and how many rows a legal hold
 * keeps from it. Counts only, never contents; the same queries the sweeper runs, without deleting.
 */
export async function planRetention(deps: RetentionPlanDeps, tenantId: string): Promise<RetentionPlanBody> {
  return deps.storage.withTenant(tenantId, async (tx) => {
    const scope = {
      tenantId,
      rules: await deps.rules.rulesIn(tx, tenantId),
      overrides: await deps.rules.overridesIn(tx, tenantId),
      held: await deps.holds.heldIn(tx, tenantId),
      now: deps.clock.now(),
    };
    const rules: RetentionPlanBody['rules'] = [];
    for (const rule of sweepSteps) {
      const all = (await retentionCandidates[rule](tx, scope, PLAN_LIMIT, false)).length;
      const count = scope.held.tenant
        ? 0
        : (await retentionCandidates[rule](tx, scope, PLAN_LIMIT, true)).length;
      rules.push({ rule, count, held: all - count });
    }
    return { at: new Date(scope.now).toISOString(), rules };
  });
}
