import { z } from 'zod';

/**
 * What a support access grant lets operator staff do in a tenant (docs/security.md, "Operator staff and support
 * access"): `metadata` reads account metadata (user look-up, tenant settings) and nothing else; `user_admin`
 * adds user administration (deactivate, reactivate); `messages` reads the history of the dialogs the grant
 * names, nothing else. A grant is read-only unless its scope says otherwise.
 */
export const supportScopes = ['metadata', 'user_admin', 'messages'] as const;
export type SupportScope = (typeof supportScopes)[number];

/** A grant lasts at most this long: access is always temporary. */
export const MAX_SUPPORT_GRANT_HOURS = 72;

export const supportGrantStatuses = ['pending', 'approved', 'refused', 'revoked'] as const;

/** The dialogs a `messages` grant names: at least one, at most this many. */
export const MAX_SUPPORT_GRANT_DIALOGS = 20;
const grantDialogIds = z.array(z.uuid()).min(1).max(MAX_SUPPORT_GRANT_DIALOGS);

/** `POST /v1/platform/support-grants`: a support staff member asks one tenant for access. */
export const supportGrantRequest = z
  .object({
    tenantId: z.uuid(),
    /** Why: shown to the tenant's admins. No personal data beyond what the tenant needs to decide. */
    reason: z.string().trim().min(10).max(1000),
    scope: z.enum(supportScopes),
    /** Required with scope `messages` (the dialogs whose history is asked for), refused with the others. */
    dialogIds: grantDialogIds.optional(),
    durationHours: z.number().int().min(1).max(MAX_SUPPORT_GRANT_HOURS),
  })
  .strict()
  .refine((body) => (body.scope === 'messages') === (body.dialogIds !== undefined), {
    message: 'dialogIds names the dialogs of a messages grant, and only of one',
    path: ['dialogIds'],
  })
  .meta({ id: 'SupportGrantRequest' });

/** `POST /v1/support-grants/:grantId/approve`: optionally narrower than asked (a smaller scope, fewer hours). */
export const supportGrantApproval = z
  .object({
    scope: z.enum(supportScopes).optional(),
    /** For a `messages` grant: some of the requested dialogs. */
    dialogIds: grantDialogIds.optional(),
    durationHours: z.number().int().min(1).max(MAX_SUPPORT_GRANT_HOURS).optional(),
  })
  .strict()
  .meta({ id: 'SupportGrantApproval' });

/** One support access grant, as the tenant and the requesting staff member see it. */
export const supportGrant = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    staffId: z.string(),
    reason: z.string(),
    scope: z.enum(supportScopes),
    /** The dialogs a `messages` grant reaches; null for the other scopes. */
    dialogIds: z.array(z.string()).nullable(),
    durationHours: z.number(),
    status: z.enum(supportGrantStatuses),
    requestedAt: z.string(),
    decidedBy: z.string().nullable(),
    decidedAt: z.string().nullable(),
    /** When an approved grant stops working by itself. */
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .meta({ id: 'SupportGrant' });

export const supportGrantList = z.object({ grants: z.array(supportGrant) }).meta({ id: 'SupportGrantList' });

/** `GET/PUT /v1/support-policy`: whether operator staff may ask for access at all. */
export const supportPolicy = z.object({ allowed: z.boolean() }).strict().meta({ id: 'SupportPolicy' });

/** One request made under a grant, from the tenant's audit log. */
export const supportGrantAccess = z
  .object({
    occurredAt: z.string(),
    staffId: z.string().nullable(),
    operation: z.string(),
    method: z.string(),
    path: z.string(),
    /** `success`, or `denied` with the refusal's error code (an expired, revoked or too narrow grant). */
    outcome: z.enum(['success', 'failure', 'denied']),
    refusal: z.string().nullable(),
    requestId: z.string().nullable(),
  })
  .meta({ id: 'SupportGrantAccess' });

export const supportGrantAccessList = z
  .object({ accesses: z.array(supportGrantAccess) })
  .meta({ id: 'SupportGrantAccessList' });
