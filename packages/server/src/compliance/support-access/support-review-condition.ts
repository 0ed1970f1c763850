import type { AlertCondition } from '../../alerting/alert-condition.ts';
import type { SupportReviewService } from './support-review-service.ts';

/**
 * `support_review_overdue` (warning, cluster): no signed review of support access covers up to within the
 * review period (`PARLEY_SUPPORT_REVIEW_DAYS`, quarterly by default). One finding; the summary holds the date.
 */
export function supportReviewCondition(reviews: Pick<SupportReviewService, 'status'>): AlertCondition {
  return {
    name: 'support_review_overdue',
    scope: 'cluster',
    severity: 'warning',
    async evaluate(now) {
      const state = await reviews.status(now);
      if (!state.overdue || state.dueAt === null) return [];
      return [
        {
          subject: 'support_review',
          summary: `The periodic review of support access was due on ${new Date(state.dueAt).toISOString()}.`,
        },
      ];
    },
  };
}
