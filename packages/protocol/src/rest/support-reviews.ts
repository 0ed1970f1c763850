import { z } from 'zod';
import { supportGrantAccess, supportGrantStatuses, supportScopes } from './support-access.ts';

/** A review is signed at least this often unless `PARLEY_SUPPORT_REVIEW_DAYS` says otherwise (quarterly). */
export const DEFAULT_SUPPORT_REVIEW_DAYS = 92;

/** The review window: `since` inclusive, `until` exclusive (ISO 8601 date or date-time). */
const instant = z.iso.datetime({ offset: true }).or(z.iso.date());

/** `GET /v1/platform/support-reviews/report?since=…&until=…`: `until` defaults to now. */
export const supportReviewReportQuery = z.object({ since: instant, until: instant.optional() }).strict();

/** One grant of the review window: who asked, who decided, its scope and duration, what was done under it. */
export const supportReviewGrant = z
  .object({
    grantId: z.string(),
    tenantId: z.string(),
    requestedBy: z.object({ staffId: z.string(), email: z.string().nullable() }),
    reason: z.string(),
    scope: z.enum(supportScopes),
    dialogIds: z.array(z.string()).nullable(),
    durationHours: z.number(),
    status: z.enum(supportGrantStatuses),
    requestedAt: z.string(),
    /** The tenant user who approved or refused it (null while pending). */
    decidedBy: z.string().nullable(),
    decision: z.enum(['approved', 'refused']).nullable(),
    decidedAt: z.string().nullable(),
    expiresAt: z.string().nullable(),
    revokedBy: z.string().nullable(),
    revokedAt: z.string().nullable(),
    /** Every request made under the grant within the window, refused ones included, oldest first. */
    accesses: z.array(supportGrantAccess),
  })
  .meta({ id: 'SupportReviewGrant' });

/**
 * The review report: every support grant whose life overlaps the window, with every access made under it
 * (from the tenants' audit chains). `reportHash` is hex SHA-256 over the canonical JSON of everything else;
 * a security officer signs the review by sending it back.
 */
export const supportReviewReport = z
  .object({
    kind: z.literal('parley.support_review_report'),
    since: z.string(),
    until: z.string(),
    totals: z.object({ grants: z.number(), accesses: z.number(), deniedAccesses: z.number() }),
    grants: z.array(supportReviewGrant),
    reportHash: z.string(),
  })
  .meta({ id: 'SupportReviewReport' });

/** `POST /v1/platform/support-reviews`: the window reviewed and the hash of the report read. */
export const supportReviewSignRequest = z
  .object({
    since: instant,
    until: instant,
    reportHash: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict()
  .meta({ id: 'SupportReviewSignRequest' });

export const supportReview = z
  .object({
    id: z.string(),
    since: z.string(),
    until: z.string(),
    reportHash: z.string(),
    grants: z.number(),
    accesses: z.number(),
    signedBy: z.string(),
    signedAt: z.string(),
  })
  .meta({ id: 'SupportReview' });

/** Whether the periodic review is overdue: no signed review covers up to within the review period. */
export const supportReviewStatus = z
  .object({
    periodDays: z.number(),
    overdue: z.boolean(),
    /** The end of the latest signed review's window (null before the first). */
    coveredUntil: z.string().nullable(),
    lastSignedAt: z.string().nullable(),
    /** When the next review falls due (null while there is nothing to review: no staff account yet). */
    dueAt: z.string().nullable(),
  })
  .meta({ id: 'SupportReviewStatus' });

export const supportReviewList = z
  .object({ status: supportReviewStatus, reviews: z.array(supportReview) })
  .meta({ id: 'SupportReviewList' });
