import type { Clock } from '../../clock.ts';
import type { ScheduledTask } from '../../jobs/index.ts';
import type { Storage } from '../../storage/database.ts';
import type { AuditPruner, PruneOutcome } from './audit-pruner.ts';

/** A tenant's audit retention rule, in milliseconds. */
export interface AuditRetentionRule {
  /** Entries are kept at least this long (the tenant's audit minimum; six years with the HIPAA preset). */
  minimumMs: number;
  /** Entries older than this are pruned; null keeps them for the life of the tenant. */
  maximumMs: number | null;
}

/**
 * Used until the tenant's retention rules are read (and by tenants that set none): keep every audit entry
 * for the life of the tenant, with a one-year minimum. Pruning happens only where a tenant set a maximum.
 */
export const DEFAULT_AUDIT_RETENTION_RULE: AuditRetentionRule = Object.freeze({
  minimumMs: 365 * 86_400_000,
  maximumMs: null,
});

export interface AuditRetentionPass {
  /** Tenants with a maximum whose chain was left alone because of a legal hold. */
  held: string[];
  pruned: { tenantId: string; throughSeq: number; removed: number }[];
  refused: { tenantId: string; outcome: Extract<PruneOutcome, { status: 'refused' }> }[];
  failed: { tenantId: string; error: unknown }[];
}

/**
 * Audit retention, every day at 03:40 UTC once cluster-wide (`audit.retention`): each tenant's chain is
 * pruned of the whole signed segments older than its audit maximum (never younger than its minimum).
 * The system chain has no tenant rule and is kept, and so is the chain of a tenant with anything under
 * legal hold. A chain whose old segment does not verify is refused
 * (and reported), never pruned: tampering is not deleted away.
 */
export function createAuditRetention(deps: {
  storage: Storage;
  clock: Clock;
  pruner: Pick<AuditPruner, 'prune'>;
  ruleFor: (tenantId: string) => Promise<AuditRetentionRule>;
  /** True while anything in the tenant is under legal hold: its audit entries are evidence, none go. */
  isHeld?: ((tenantId: string) => Promise<boolean>) | undefined;
}) {
  const { storage, clock, pruner } = deps;
  return {
    async run(signal?: AbortSignal): Promise<AuditRetentionPass> {
      const tenants = await storage.withSystem((tx) => tx.selectFrom('tenants').select('id').execute());
      const pass: AuditRetentionPass = { held: [], pruned: [], refused: [], failed: [] };
      for (const { id: tenantId } of tenants) {
        signal?.throwIfAborted();
        try {
          const rule = await deps.ruleFor(tenantId);
          if (rule.maximumMs === null) continue;
          if (await deps.isHeld?.(tenantId)) {
            pass.held.push(tenantId);
            continue;
          }
          // The longer of the two: a maximum under the minimum never shortens what is kept.
          const keepMs = Math.max(rule.maximumMs, rule.minimumMs);
          const outcome = await pruner.prune(tenantId, {
            olderThan: clock.now() - keepMs,
            minimumDays: rule.minimumMs / 86_400_000,
          });
          if (outcome.status === 'pruned') pass.pruned.push({ tenantId, ...outcome });
          if (outcome.status === 'refused') pass.refused.push({ tenantId, outcome });
        } catch (error) {
          pass.failed.push({ tenantId, error });
        }
      }
      return pass;
    },
  };
}

export type AuditRetention = ReturnType<typeof createAuditRetention>;

/** The scheduled task; refused and failed chains are logged by `onProblem` and the pass goes on. */
export function createAuditRetentionTask(
  retention: AuditRetention,
  onProblem: (pass: AuditRetentionPass) => void,
): ScheduledTask {
  return {
    name: 'audit.retention',
    cron: '40 3 * * *',
    async run({ signal }) {
      const pass = await retention.run(signal);
      if (pass.refused.length > 0 || pass.failed.length > 0) onProblem(pass);
    },
  };
}
