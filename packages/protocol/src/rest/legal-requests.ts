import { z } from 'zod';

const text = (max: number) => z.string().trim().min(1).max(max);
const isoTime = z.iso.datetime({ offset: true });

/** What a disclosure package can hold of the named accounts (docs/compliance.md, "Law-enforcement requests"). */
export const legalScopeKinds = ['account', 'messages', 'sessions'] as const;
export type LegalScopeKind = (typeof legalScopeKinds)[number];

/**
 * The scope of an order as the export engine reads it: accounts (`userIds`), dialogs (`dialogIds`), a time
 * range `[from, to)` and the kinds of record. Messages are in scope when sent in the range by one of the
 * accounts (any account when none is named) in one of the dialogs (any dialog when none is named); account
 * profiles and sessions only of the named accounts. At least one account or dialog is named: no order
 * covers a whole tenant.
 */
export const legalScopeSpec = z
  .object({
    userIds: z.array(z.uuid()).max(100).default([]),
    dialogIds: z.array(z.uuid()).max(100).default([]),
    from: isoTime,
    to: isoTime,
    kinds: z.array(z.enum(legalScopeKinds)).min(1).max(legalScopeKinds.length),
  })
  .strict()
  .refine((spec) => spec.userIds.length + spec.dialogIds.length > 0, {
    message: 'Name at least one account or dialog.',
  })
  .refine((spec) => Date.parse(spec.from) < Date.parse(spec.to), { message: 'from must precede to.' })
  .meta({ id: 'LegalScopeSpec' });
export type LegalScopeSpec = z.infer<typeof legalScopeSpec>;

/** `POST /v1/platform/legal-requests`: a law-enforcement request as received. */
export const legalRequestCreate = z
  .object({
    authority: text(300),
    legalBasis: text(1_000),
    orderReference: text(200),
    scope: text(4_000),
    /** The scope as records the export engine can select; without it no disclosure package can be built. */
    scopeSpec: legalScopeSpec.optional(),
    tenantId: z.uuid(),
    receivedAt: isoTime,
    deadlineAt: isoTime,
  })
  .strict()
  .meta({ id: 'LegalRequestCreate' });

/**
 * `POST /v1/platform/legal-requests/{id}/review`: is the order valid and binding; approve it as is, narrow
 * it (`approvedScope`), or object (reject). A non-disclosure order holds the tenant notice until its end.
 */
export const legalRequestReview = z
  .object({
    valid: z.boolean(),
    binding: z.boolean(),
    decision: z.enum(['approve', 'narrow', 'object']),
    approvedScope: text(4_000).optional(),
    /** Narrowing: the records allowed, within the order's `scopeSpec` (approving keeps the order's). */
    approvedScopeSpec: legalScopeSpec.optional(),
    notes: text(4_000),
    nonDisclosureUntil: isoTime.optional(),
  })
  .strict()
  .meta({ id: 'LegalRequestReview' });

/** `POST /v1/platform/legal-requests/{id}/disclosure`: the package handed over, by its SHA-256. */
export const legalRequestDisclosure = z
  .object({ packageSha256: z.string().regex(/^[0-9a-f]{64}$/) })
  .strict()
  .meta({ id: 'LegalRequestDisclosure' });

export const legalRequest = z
  .object({
    id: z.string(),
    authority: z.string(),
    legalBasis: z.string(),
    orderReference: z.string(),
    scope: z.string(),
    scopeSpec: legalScopeSpec.nullable(),
    tenantId: z.string(),
    receivedAt: z.string(),
    deadlineAt: z.string(),
    status: z.enum(['received', 'approved', 'rejected', 'disclosed']),
    valid: z.boolean().nullable(),
    binding: z.boolean().nullable(),
    approvedScope: z.string().nullable(),
    approvedScopeSpec: legalScopeSpec.nullable(),
    /** The officer's review notes (security officers only; sealed at rest under the platform key). */
    reviewNotes: z.string().nullable(),
    objected: z.boolean(),
    narrowed: z.boolean(),
    nonDisclosureUntil: z.string().nullable(),
    tenantNotifiedAt: z.string().nullable(),
    disclosedAt: z.string().nullable(),
    packageSha256: z.string().nullable(),
  })
  .meta({ id: 'LegalRequest' });

/**
 * `GET|POST /v1/platform/legal-requests/{id}/package`: the disclosure package the export engine builds from
 * the approved scope; its archive downloads (security officers only) until `expiresAt`.
 */
export const legalPackage = z
  .object({
    id: z.string(),
    requestId: z.string(),
    status: z.enum(['building', 'ready', 'failed', 'expired']),
    sha256: z.string().nullable(),
    records: z.number().int(),
    archiveBytes: z.number().int(),
    createdAt: z.string(),
    completedAt: z.string().nullable(),
    expiresAt: z.string().nullable(),
    downloadCount: z.number().int(),
  })
  .meta({ id: 'LegalPackage' });

export const legalRequestList = z
  .object({ requests: z.array(legalRequest) })
  .meta({ id: 'LegalRequestList' });

/** A request as the tenant it is about sees it, once it was told. */
export const tenantLegalRequest = z
  .object({
    id: z.string(),
    authority: z.string(),
    legalBasis: z.string(),
    orderReference: z.string(),
    approvedScope: z.string().nullable(),
    status: z.enum(['received', 'approved', 'rejected', 'disclosed']),
    receivedAt: z.string(),
    notifiedAt: z.string(),
    disclosedAt: z.string().nullable(),
  })
  .meta({ id: 'TenantLegalRequest' });

export const tenantLegalRequestList = z
  .object({ requests: z.array(tenantLegalRequest) })
  .meta({ id: 'TenantLegalRequestList' });

/** `GET /v1/transparency-report`: counts per half year (`2026-H2`), no names. */
export const transparencyReport = z
  .object({
    periods: z.array(
      z.object({
        period: z.string(),
        received: z.number().int(),
        objected: z.number().int(),
        narrowed: z.number().int(),
        disclosed: z.number().int(),
        notified: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'TransparencyReport' });
