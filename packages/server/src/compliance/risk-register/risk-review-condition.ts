import type { AlertCondition } from '../../alerting/alert-condition.ts';
import type { RiskService } from './risk-service.ts';

/**
 * `risk_review_overdue` (warning, cluster): a risk of the register is past its review date (reviews are at
 * least yearly). One finding per risk, by id; the summary holds the id and the date only.
 */
export function riskReviewCondition(risks: Pick<RiskService, 'overdueReviews'>): AlertCondition {
  return {
    name: 'risk_review_overdue',
    scope: 'cluster',
    severity: 'warning',
    async evaluate(now) {
      return (await risks.overdueReviews(now)).map((row) => ({
        subject: row.id,
        summary: `Risk ${row.id} was due for review on ${new Date(row.next_review_at).toISOString()}.`,
      }));
    },
  };
}
