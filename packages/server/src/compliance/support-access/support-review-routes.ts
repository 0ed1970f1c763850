import {
  supportReview,
  supportReviewList,
  supportReviewReport,
  supportReviewReportQuery,
  supportReviewSignRequest,
} from '@parley/protocol';
import type { Clock } from '../../clock.ts';
import { staffOf } from '../../http/auth-hook.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import { presentSupportReview, presentSupportReviewStatus } from './support-review-presenter.ts';
import type { SupportReviewService } from './support-review-service.ts';

/** Reviews are signed by security officers only; platform admins may read the report and the reviews. */
const officer = { kind: 'platform', roles: ['security_officer'] } as const;
const readers = { kind: 'platform', roles: ['security_officer', 'platform_admin'] } as const;

/** The periodic review of support access under `/v1/platform/…` (docs/security.md, "Periodic review"). */
export function supportReviewRoutes({
  supportReviews,
  clock,
}: {
  supportReviews: SupportReviewService;
  clock: Clock;
}): RouteDeclaration[] {
  return [
    {
      method: 'GET',
      url: '/v1/platform/support-reviews/report',
      operationId: 'getSupportReviewReport',
      summary:
        'The review report of a window: every support grant in it (who asked, who approved, refused or revoked, scope, duration) and every access made under it, with the hash to sign.',
      tags: ['platform'],
      access: readers,
      schema: { querystring: supportReviewReportQuery, response: { 200: supportReviewReport } },
      handler: async (request) => {
        const query = supportReviewReportQuery.parse(request.query);
        const window = {
          since: Date.parse(query.since),
          until: query.until === undefined ? clock.now() : Date.parse(query.until),
        };
        const report = await supportReviews.report(window);
        await supportReviews.recordRead(staffOf(request), window, report.reportHash);
        return report;
      },
    },
    {
      method: 'POST',
      url: '/v1/platform/support-reviews',
      operationId: 'signSupportReview',
      summary:
        'Sign the review of a window that has ended: the hash must be that of the window’s report now. Security officers only; recorded in the platform audit chain.',
      tags: ['platform'],
      access: officer,
      schema: { body: supportReviewSignRequest, response: { 201: supportReview } },
      handler: async (request, reply) => {
        const body = supportReviewSignRequest.parse(request.body);
        const row = await supportReviews.sign(staffOf(request), {
          since: Date.parse(body.since),
          until: Date.parse(body.until),
          reportHash: body.reportHash,
        });
        return reply.code(201).send(presentSupportReview(row));
      },
    },
    {
      method: 'GET',
      url: '/v1/platform/support-reviews',
      operationId: 'listSupportReviews',
      summary:
        'Signed reviews, latest window first, and whether the next is overdue (PARLEY_SUPPORT_REVIEW_DAYS).',
      tags: ['platform'],
      access: readers,
      schema: { response: { 200: supportReviewList } },
      handler: async () => ({
        status: presentSupportReviewStatus(await supportReviews.status(clock.now())),
        reviews: (await supportReviews.list()).map(presentSupportReview),
      }),
    },
  ];
}
