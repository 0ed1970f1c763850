import type { ScheduledTask } from '../../jobs/index.ts';
import type { Storage } from '../../storage/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AccessLogService } from './access-log-service.ts';

/**
 * Access records follow the audit retention rules (audit/audit-retention-task.ts): a record goes when the
 * audit entry that chains its batch was pruned, never sooner — so the audit minimum (six years with the
 * HIPAA preset), the maximum and legal holds apply to it as they do to the chain. Daily at 04:10 UTC, after
 * `audit.retention` (03:40), once cluster-wide.
 */
export function createAccessLogRetentionTask(deps: {
  storage: Storage;
  audit: Pick<AuditLog, 'query'>;
  accessLog: Pick<AccessLogService, 'prune'>;
}): ScheduledTask {
  const { storage, audit, accessLog } = deps;
  return {
    name: 'access_log.retention',
    cron: '10 4 * * *',
    async run({ signal }) {
      const tenants = await storage.withSystem((tx) => tx.selectFrom('tenants').select('id').execute());
      for (const { id: tenantId } of tenants) {
        signal.throwIfAborted();
        const oldest = await storage.withTenant(tenantId, (tx) =>
          audit.query(tx, tenantId, {}, { limit: 1, order: 'asc' }),
        );
        const first = oldest.entries[0];
        if (first) await accessLog.prune(tenantId, first.seq - 1);
      }
    },
  };
}
