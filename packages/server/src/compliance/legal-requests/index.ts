/**
 * Law-enforcement requests (docs/compliance.md): register, review, tenant notice before disclosure unless a
 * non-disclosure order holds, the disclosure package built by the export engine from the approved scope,
 * disclosure by its hash, and the public transparency report.
 */
import type { ScheduledTask } from '../../jobs/index.ts';
import { createLegalPackageJob, type LegalPackageJobDeps } from './legal-package-job.ts';
import { createLegalPackageService, type LegalPackageService } from './legal-package-service.ts';
import { createLegalRequestService, type LegalRequestService } from './legal-request-service.ts';

export { createLegalRequestService, type LegalRequestService } from './legal-request-service.ts';
export { legalRequestRoutes } from './legal-request-routes.ts';

/** The request register with its disclosure packages (their service and the job that builds them). */
export function createLegalRequests(
  deps: Parameters<typeof createLegalRequestService>[0] &
    LegalPackageJobDeps & { queue: Parameters<typeof createLegalPackageService>[0]['queue'] },
) {
  const packageJob = createLegalPackageJob(deps);
  const packages = createLegalPackageService({ ...deps, job: packageJob });
  return { ...createLegalRequestService(deps), packages, packageJob };
}

export type LegalRequests = LegalRequestService & { packages: LegalPackageService };

/**
 * Every 15 minutes once cluster-wide: tells tenants whose non-disclosure order ended, reminds security
 * officers of deadlines, and destroys disclosure packages whose download window ended.
 */
export function createLegalRequestNoticeTask(
  legalRequests: Pick<LegalRequestService, 'noticesDue' | 'remindDeadlines'> & {
    packages?: Pick<LegalPackageService, 'expire'>;
  },
): ScheduledTask {
  return {
    name: 'legal_requests.notices',
    cron: '*/15 * * * *',
    async run() {
      await legalRequests.noticesDue();
      await legalRequests.remindDeadlines();
      await legalRequests.packages?.expire();
    },
  };
}
