import { z } from 'zod';
import { supportReviewStatus } from './support-reviews.ts';

export const riskStatuses = ['open', 'mitigated', 'accepted', 'closed'] as const;
export type RiskStatus = (typeof riskStatuses)[number];

const text = (max: number) => z.string().trim().min(1).max(max);
/** 1 (rare / negligible) to 5 (almost certain / severe). */
const level = z.number().int().min(1).max(5);

/** `POST /v1/platform/risks`: a risk of the operator's risk register. */
export const riskCreateRequest = z
  .object({
    asset: text(200),
    threat: text(1_000),
    likelihood: level,
    impact: level,
    controls: text(4_000),
    owner: text(200),
    status: z.enum(riskStatuses).default('open'),
    /** Default: a year from now (every risk is reviewed at least yearly). */
    nextReviewAt: z.iso.datetime({ offset: true }).optional(),
  })
  .strict()
  .meta({ id: 'RiskCreateRequest' });

/** `POST /v1/platform/risks/{id}/reviews`: a review; the next is due within a year. */
export const riskReviewRequest = z
  .object({
    likelihood: level.optional(),
    impact: level.optional(),
    controls: text(4_000).optional(),
    status: z.enum(riskStatuses).optional(),
    /** Default and latest: a year after the review. */
    nextReviewAt: z.iso.datetime({ offset: true }).optional(),
  })
  .strict()
  .meta({ id: 'RiskReviewRequest' });

export const risk = z
  .object({
    id: z.string(),
    asset: z.string(),
    threat: z.string(),
    likelihood: z.number().int(),
    impact: z.number().int(),
    /** likelihood × impact, 1 to 25. */
    score: z.number().int(),
    controls: z.string(),
    owner: z.string(),
    status: z.enum(riskStatuses),
    nextReviewAt: z.string(),
    lastReviewedAt: z.string().nullable(),
    reviewOverdue: z.boolean(),
  })
  .meta({ id: 'Risk' });

export const riskList = z.object({ risks: z.array(risk) }).meta({ id: 'RiskList' });

/**
 * `GET /v1/platform/health`: what needs an officer's attention in the registers (`attention` when anything
 * does). Today: risks past their review date (the same count as `parley_risk_reviews_overdue`).
 */
export const platformHealth = z
  .object({
    /** attention while any risk review or the periodic review of support access is overdue. */
    status: z.enum(['ok', 'attention']),
    riskReviews: z.object({
      overdue: z.number().int(),
      risks: z.array(z.object({ id: z.string(), asset: z.string(), nextReviewAt: z.string() })),
    }),
    supportReview: supportReviewStatus,
  })
  .meta({ id: 'PlatformHealth' });

/** `POST /v1/platform/changes`: a change record; a major one must link a risk assessment before it is done. */
export const changeCreateRequest = z
  .object({ title: text(200), description: text(4_000), major: z.boolean() })
  .strict()
  .meta({ id: 'ChangeCreateRequest' });

/** `PUT /v1/platform/changes/{id}/assessment`: the risk it was assessed against and the assessment. */
export const changeAssessmentRequest = z
  .object({ riskId: z.uuid(), assessment: text(4_000) })
  .strict()
  .meta({ id: 'ChangeAssessmentRequest' });

export const changeRecord = z
  .object({
    id: z.string(),
    title: z.string(),
    description: z.string(),
    major: z.boolean(),
    riskId: z.string().nullable(),
    assessment: z.string().nullable(),
    status: z.enum(['planned', 'done']),
    createdAt: z.string(),
    doneAt: z.string().nullable(),
  })
  .meta({ id: 'ChangeRecord' });

export const changeRecordList = z.object({ changes: z.array(changeRecord) }).meta({ id: 'ChangeRecordList' });
