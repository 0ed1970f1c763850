/**
 * Law-enforcement requests (docs/compliance.md): register, review, tenant notice before disclosure unless a
 * non-disclosure order holds, disclosure by hash, and the public transparency report.
 */
import type { ScheduledTask } from '../../jobs/index.ts';
import type { LegalRequestService } from './legal-request-service.ts';

export { createLegalRequestService, type LegalRequestService } from './legal-request-service.ts';
export { legalRequestRoutes } from './legal-request-routes.ts';

/** Tells tenants whose non-disclosure order ended, every 15 minutes once cluster-wide. */
export function createLegalRequestNoticeTask(
  legalRequests: Pick<LegalRequestService, 'noticesDue'>,
): ScheduledTask {
  return {
    name: 'legal_requests.notices',
    cron: '*/15 * * * *',
    async run() {
      await legalRequests.noticesDue();
    },
  };
}
