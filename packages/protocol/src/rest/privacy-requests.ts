import { z } from 'zod';
import { updateProfileBody } from './me.ts';

/**
 * What a data subject can ask for under the GDPR: a copy of their data (Art. 15, `access`; `export` for
 * Art. 20 portability), correction (Art. 16), erasure (Art. 17), restriction (Art. 18), objection (Art. 21).
 */
export const dataSubjectRequestKinds = [
  'export',
  'erasure',
  'rectification',
  'restriction',
  'objection',
  'access',
] as const;
export type DataSubjectRequestKind = (typeof dataSubjectRequestKinds)[number];

/** `received` and `in_progress` are open; the other three close a request for good. */
export const dataSubjectRequestStatuses = [
  'received',
  'in_progress',
  'completed',
  'refused',
  'cancelled',
] as const;
export type DataSubjectRequestStatus = (typeof dataSubjectRequestStatuses)[number];

/** How a request arrived: filed by the data subject through the API, or recorded by an administrator. */
export const dataSubjectRequestSources = ['subject', 'admin'] as const;
export type DataSubjectRequestSource = (typeof dataSubjectRequestSources)[number];

/** The kinds a user files for themselves here; export and erasure have their own self-service routes. */
export const selfFiledRequestKinds = ['access', 'rectification', 'restriction', 'objection'] as const;

/** Free text: what the subject asks for, or why a deadline moved; at most 2000 characters. */
const requestText = z.string().trim().min(1).max(2000);

/** A request as an administrator sees it. Times are ISO 8601 (UTC). */
export const dataSubjectRequestBody = z.object({
  id: z.string(),
  subjectId: z.string(),
  kind: z.enum(dataSubjectRequestKinds),
  source: z.enum(dataSubjectRequestSources),
  /** Who filed or recorded it (a user id). */
  requestedBy: z.string().nullable(),
  status: z.enum(dataSubjectRequestStatuses),
  receivedAt: z.string(),
  /** The statutory deadline: received + 30 days. */
  deadlineAt: z.string(),
  /** Set once extended (GDPR Art. 12(3)); at most received + 90 days. */
  extendedUntil: z.string().nullable(),
  extensionReason: z.string().nullable(),
  /** The deadline in force: `extendedUntil` when extended, else `deadlineAt`. */
  dueAt: z.string(),
  /** Open and past `dueAt` by the server's clock. */
  overdue: z.boolean(),
  /** The subject's own words, if any; null once the subject is erased. */
  note: z.string().nullable(),
  outcome: z.string().nullable(),
  /** The administrator who last acted on it. */
  handledBy: z.string().nullable(),
  closedAt: z.string().nullable(),
  updatedAt: z.string(),
});
export type DataSubjectRequestBody = z.infer<typeof dataSubjectRequestBody>;

export const dataSubjectRequestPage = z.object({
  requests: z.array(dataSubjectRequestBody),
  /** Pass as `cursor` for the next page; null on the last. */
  nextCursor: z.string().nullable(),
});

/** A request as its subject sees it: no staff ids. */
export const ownDataSubjectRequestBody = dataSubjectRequestBody.omit({ requestedBy: true, handledBy: true });
export type OwnDataSubjectRequestBody = z.infer<typeof ownDataSubjectRequestBody>;
export const ownDataSubjectRequestList = z.object({ requests: z.array(ownDataSubjectRequestBody) });

export const listDataSubjectRequestsQuery = z
  .object({
    /** `open` (default): received or in progress, soonest deadline first; `closed` and `all`: newest first. */
    status: z.enum(['open', 'closed', 'all']).default('open'),
    overdue: z.enum(['true', 'false']).optional(),
    kind: z.enum(dataSubjectRequestKinds).optional(),
    subjectId: z.uuid().optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(200).optional(),
  })
  .strict();

/** A request received outside the API (mail, letter, phone), recorded by an administrator. */
export const recordDataSubjectRequestBody = z
  .object({
    subjectId: z.uuid(),
    kind: z.enum(dataSubjectRequestKinds),
    /** When it reached the organisation (the deadline runs from then); now when absent. */
    receivedAt: z.iso.datetime({ offset: true }).optional(),
    note: requestText.optional(),
  })
  .strict();

export const fileDataSubjectRequestBody = z
  .object({ kind: z.enum(selfFiledRequestKinds), note: requestText.optional() })
  .strict();

export const extendDataSubjectRequestBody = z
  .object({ until: z.iso.datetime({ offset: true }), reason: requestText })
  .strict();

/** Start work on a request, or close it; closing needs an outcome (no personal data in it). */
export const updateDataSubjectRequestBody = z.discriminatedUnion('status', [
  z.object({ status: z.literal('in_progress') }).strict(),
  z.object({ status: z.enum(['completed', 'refused', 'cancelled']), outcome: requestText }).strict(),
]);
export type UpdateDataSubjectRequestBody = z.infer<typeof updateDataSubjectRequestBody>;

/**
 * An administrator's correction of a user's personal fields (GDPR Art. 16). Recorded as a completed
 * rectification request: `requestId` names the open one it answers, else a new one is recorded.
 */
export const rectifyUserBody = z
  .object({
    changes: updateProfileBody
      .extend({ email: z.email().max(320).optional() })
      .refine((changes) => Object.keys(changes).length > 0, 'name at least one field'),
    requestId: z.uuid().optional(),
  })
  .strict();
export type RectifyUserBody = z.infer<typeof rectifyUserBody>;

export const rectificationResult = z.object({ requestId: z.string(), fields: z.array(z.string()) });

/** Restricting processing (GDPR Art. 18): the reason is kept sealed; `requestId` names the request it answers. */
export const restrictUserBody = z.object({ reason: requestText, requestId: z.uuid().optional() }).strict();

export const liftRestrictionBody = z.object({ reason: requestText }).strict();

export const restrictionBody = z.object({
  id: z.string(),
  userId: z.string(),
  requestId: z.string().nullable(),
  reason: z.string(),
  restrictedBy: z.string(),
  restrictedAt: z.string(),
  liftedAt: z.string().nullable(),
  liftedBy: z.string().nullable(),
  liftReason: z.string().nullable(),
});
export const restrictionList = z.object({ restrictions: z.array(restrictionBody) });
export const restrictionResult = z.object({ restrictionId: z.string(), requestId: z.string() });

/** A user's change of their own e-mail address: confirmed from the new address before it takes effect. */
export const emailChangeBody = z
  .object({ email: z.email().max(320), password: z.string().min(1).max(16_384) })
  .strict();
export const emailChangeConfirmBody = z.object({ token: z.string().min(1).max(200) }).strict();
