import type { Clock } from '../../clock.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import type { SigningKeys } from '../../crypto/signing-keys.ts';
import type { Scheduler } from '../../jobs/index.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Storage } from '../../storage/database.ts';
import { createAuditMinimiser } from '../audit/audit-minimiser.ts';
import { createAuditPruner } from '../audit/audit-pruner.ts';
import {
  createAuditRetention,
  createAuditRetentionTask,
  DEFAULT_AUDIT_RETENTION_RULE,
} from '../audit/audit-retention-task.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import {
  createNetworkDataMinimisation,
  createNetworkDataMinimisationTask,
  DEFAULT_IP_MINIMISATION_DAYS,
} from './network-data-minimisation-task.ts';
import type { LegalHoldService } from './legal-hold-service.ts';
import { durationMs, type RetentionRules } from './retention-rules.ts';
import type { RetentionService } from './retention-service.ts';
import { createSessionDeviceMinimiser } from './session-device-minimiser.ts';

/** The rule values these tasks need from a tenant's retention rules (docs/privacy.md). */
export interface DataLifecycleRules {
  auditMinimumMs: number;
  /** Null keeps audit entries for the life of the tenant. */
  auditMaximumMs: number | null;
  ipMinimisationDays: number;
}

/** Without the tenants' rules (tests, tools): keep audit entries, minimise network data after 30 days. */
export const DEFAULT_DATA_LIFECYCLE_RULES: DataLifecycleRules = Object.freeze({
  auditMinimumMs: DEFAULT_AUDIT_RETENTION_RULE.minimumMs,
  auditMaximumMs: DEFAULT_AUDIT_RETENTION_RULE.maximumMs,
  ipMinimisationDays: DEFAULT_IP_MINIMISATION_DAYS,
});

/** The values these tasks read from a tenant's retention rules (retention-rules.ts). */
export function lifecycleRules(rules: RetentionRules): DataLifecycleRules {
  return {
    auditMinimumMs: durationMs(rules.auditMinimum),
    auditMaximumMs: rules.auditMaximum === null ? null : durationMs(rules.auditMaximum),
    ipMinimisationDays: rules.ipMinimisationDays,
  };
}

/**
 * Registers audit retention (`audit.retention`, daily) and network data minimisation
 * (`retention.minimise-network-data`, hourly) with the scheduler; each runs once cluster-wide.
 */
export function registerDataLifecycleTasks(deps: {
  scheduler: Pick<Scheduler, 'register'>;
  storage: Storage;
  clock: Clock;
  audit: AuditLog;
  fieldCipher: FieldCipher;
  signingKeys: Pick<SigningKeys, 'sign' | 'verify'>;
  logger: Logger;
  /** The tenants' retention rules; without them every tenant has `DEFAULT_DATA_LIFECYCLE_RULES`. */
  rules?: Pick<RetentionService, 'get'> | undefined;
  /** Legal holds: a tenant with anything held keeps its whole audit chain. */
  holds?: Pick<LegalHoldService, 'isHeld'> | undefined;
}): void {
  const { storage, clock, audit, fieldCipher, logger, rules, holds } = deps;
  const rulesFor = rules
    ? async (tenantId: string) => lifecycleRules(await rules.get(tenantId))
    : () => Promise.resolve(DEFAULT_DATA_LIFECYCLE_RULES);
  const retention = createAuditRetention({
    storage,
    clock,
    pruner: createAuditPruner({
      storage,
      audit,
      signingKeys: deps.signingKeys,
      clock,
      checkpointEvery: audit.checkpointEvery,
    }),
    ruleFor: async (tenantId) => {
      const tenantRules = await rulesFor(tenantId);
      return { minimumMs: tenantRules.auditMinimumMs, maximumMs: tenantRules.auditMaximumMs };
    },
    isHeld: holds && ((tenantId) => holds.isHeld(tenantId, { type: 'tenant' })),
  });
  deps.scheduler.register(
    createAuditRetentionTask(retention, ({ refused, failed }) => {
      for (const { tenantId, outcome } of refused)
        logger.error({ tenantId, firstBad: outcome.firstBad }, 'audit segment does not verify; not pruned');
      for (const { tenantId, error } of failed)
        logger.error({ tenantId, err: error }, 'audit retention failed for a chain');
    }),
  );
  const minimisation = createNetworkDataMinimisation({
    storage,
    clock,
    sessions: createSessionDeviceMinimiser({ storage, fieldCipher, clock }),
    audit: createAuditMinimiser({ storage, audit, fieldCipher, clock }),
    ipMinimisationDays: async (tenantId) => (await rulesFor(tenantId)).ipMinimisationDays,
  });
  deps.scheduler.register(createNetworkDataMinimisationTask(minimisation));
}
