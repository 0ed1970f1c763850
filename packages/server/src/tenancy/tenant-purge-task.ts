import type { Logger } from '../observability/logger.ts';
import type { ScheduledTask } from '../jobs/index.ts';
import type { TenantCloseService } from './tenant-close-service.ts';

/**
 * Every ten minutes, once cluster-wide (a lease in the database): purges the closed tenants whose export window
 * ended, and resumes any purge an earlier run left `purging` (its progress is committed batch by batch in the
 * closure row, which the operator sees with `parley tenant list --stage purging`). A tenant under a legal hold
 * is skipped and stays closed until the hold ends.
 */
export function createTenantPurgeTask(
  closures: Pick<TenantCloseService, 'purgeDue'>,
  logger: Pick<Logger, 'info' | 'warn'>,
): ScheduledTask {
  return {
    name: 'tenancy.purge',
    cron: '*/10 * * * *',
    async run({ signal }) {
      const { purged, held } = await closures.purgeDue(signal);
      for (const tenantId of purged)
        logger.info({ tenantId }, 'tenant purged; certificate of deletion recorded');
      for (const tenantId of held) logger.warn({ tenantId }, 'tenant purge waits: a legal hold exists');
    },
  };
}
