import { platformHealth } from '@parley/protocol';
import type { Clock } from '../clock.ts';
import { presentSupportReviewStatus } from '../compliance/support-access/support-review-presenter.ts';
import type { SupportReviewService } from '../compliance/support-access/support-review-service.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { RiskService } from '../compliance/risk-register/risk-service.ts';

interface PlatformHealthDeps {
  risks: RiskService;
  supportReviews: SupportReviewService;
  clock: Clock;
}

/**
 * `GET /v1/platform/health`: the operator's registers at a glance — risks past their yearly review and the
 * periodic review of support access (docs/compliance.md "Registers", docs/security.md "Periodic review").
 * Deliberately not part of `/readyz`: an overdue review is work for a person, not a reason to stop traffic.
 */
export function platformHealthRoutes({
  risks,
  supportReviews,
  clock,
}: PlatformHealthDeps): RouteDeclaration[] {
  return [
    {
      method: 'GET',
      url: '/v1/platform/health',
      operationId: 'getPlatformHealth',
      summary:
        'What needs attention in the registers: risks past their review date and an overdue periodic review of support access (status attention while either is).',
      tags: ['risk-register'],
      access: { kind: 'platform', roles: ['security_officer', 'platform_admin'] },
      schema: { response: { 200: platformHealth } },
      handler: async () => {
        const now = clock.now();
        const [overdue, review] = await Promise.all([risks.overdueReviews(now), supportReviews.status(now)]);
        return {
          status: overdue.length > 0 || review.overdue ? 'attention' : 'ok',
          riskReviews: {
            overdue: overdue.length,
            risks: overdue.map((row) => ({
              id: row.id,
              asset: row.asset,
              nextReviewAt: new Date(row.next_review_at).toISOString(),
            })),
          },
          supportReview: presentSupportReviewStatus(review),
        };
      },
    },
  ];
}
