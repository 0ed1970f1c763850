import { z } from 'zod';

/**
 * What erasure does to the messages of an erased user (GDPR Art. 17), chosen per tenant: `erase` removes
 * their text, properties and files for everyone (each message stays as a deleted tombstone so sequence
 * numbers never disappear); `keep_as_deleted_user` keeps the text for the other members, shown under an
 * erased account, while files and search entries go all the same.
 */
export const erasureMessagePolicies = ['erase', 'keep_as_deleted_user'] as const;
export type ErasureMessagePolicy = (typeof erasureMessagePolicies)[number];

/** `scheduled` (in its grace period, cancellable) → `running` → `completed`; or `cancelled` during grace. */
export const erasureStatuses = ['scheduled', 'running', 'completed', 'cancelled'] as const;
export type ErasureStatus = (typeof erasureStatuses)[number];

/** Longest grace period a tenant may set: the erasure must still finish within the one-month deadline. */
export const MAX_ERASURE_GRACE_DAYS = 30;
export const DEFAULT_ERASURE_GRACE_DAYS = 14;

const graceDays = z.number().int().min(0).max(MAX_ERASURE_GRACE_DAYS);

/**
 * Self-service erasure: the account's password again and, when the account has MFA, a current TOTP `code`
 * or one `recoveryCode` (at most one of the two), so a stolen session alone cannot erase anyone.
 */
export const requestMyErasureBody = z
  .object({
    password: z.string().min(1).max(1024),
    code: z
      .string()
      .regex(/^[0-9]{6}$/)
      .optional(),
    recoveryCode: z.string().min(1).max(64).optional(),
  })
  .strict()
  .refine((body) => body.code === undefined || body.recoveryCode === undefined, {
    message: 'give at most one of code and recoveryCode',
  });

/**
 * An administrator erases a user: `requestId` names the open erasure request it answers (else one is
 * recorded); `graceDays` shortens the tenant's grace period (0: as soon as the job runs).
 */
export const requestUserErasureBody = z
  .object({ requestId: z.uuid().optional(), graceDays: graceDays.optional() })
  .strict();

/** How many records of each kind the erasure removed, overwrote or pseudonymised. */
export const erasureCounts = z
  .object({
    profileFields: z.number().int(),
    userKeys: z.number().int(),
    sessions: z.number().int(),
    tokens: z.number().int(),
    messagesErased: z.number().int(),
    messagesKept: z.number().int(),
    searchEntries: z.number().int(),
    attachments: z.number().int(),
    reactions: z.number().int(),
    memberships: z.number().int(),
    hiddenMessages: z.number().int(),
    blocks: z.number().int(),
    consentStates: z.number().int(),
    exports: z.number().int(),
    mail: z.number().int(),
    callDevices: z.number().int(),
  })
  .meta({ id: 'ErasureCounts' });
export type ErasureCounts = z.infer<typeof erasureCounts>;

/**
 * The erasure certificate: what was erased, when, under which request, and what remains. Signed (Ed25519,
 * the audit signing key) over its canonical JSON (keys sorted, no spaces).
 */
export const erasureCertificate = z
  .object({
    format: z.literal('parley-erasure-certificate/1'),
    erasureId: z.string(),
    requestId: z.string().nullable(),
    tenantId: z.string(),
    /** The erased account's id: a random identifier with nothing left behind it. */
    subjectId: z.string(),
    source: z.enum(['subject', 'admin', 'register']),
    messagePolicy: z.enum(erasureMessagePolicies),
    requestedAt: z.string(),
    startedAt: z.string(),
    completedAt: z.string(),
    erased: erasureCounts,
    /** What is kept on purpose, in words (docs/privacy.md, "Erasure"). */
    remains: z.array(z.string()),
  })
  .meta({ id: 'ErasureCertificate' });
export type ErasureCertificate = z.infer<typeof erasureCertificate>;

export const signedErasureCertificate = z
  .object({
    certificate: erasureCertificate,
    /** Ed25519 over the certificate's canonical JSON, base64. */
    signature: z.string(),
    keyId: z.string(),
    /** The signing key's public half (DER SubjectPublicKeyInfo, base64), to verify without the server. */
    publicKey: z.string(),
    algorithm: z.literal('Ed25519'),
  })
  .meta({ id: 'SignedErasureCertificate' });
export type SignedErasureCertificate = z.infer<typeof signedErasureCertificate>;

/** An erasure and where it stands. Times are ISO 8601 (UTC). */
export const erasureBody = z
  .object({
    id: z.string(),
    userId: z.string(),
    requestId: z.string().nullable(),
    source: z.enum(['subject', 'admin', 'register']),
    status: z.enum(erasureStatuses),
    messagePolicy: z.enum(erasureMessagePolicies),
    requestedAt: z.string(),
    /** When the grace period ends and the erasure starts; cancellable until then. */
    eraseAfter: z.string(),
    startedAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    cancelledAt: z.string().nullable(),
    /** Present once completed. */
    certificate: signedErasureCertificate.nullable(),
  })
  .meta({ id: 'Erasure' });
export type ErasureBody = z.infer<typeof erasureBody>;

/** A tenant's erasure settings. */
export const erasureSettings = z
  .object({
    graceDays,
    messagePolicy: z.enum(erasureMessagePolicies),
  })
  .meta({ id: 'ErasureSettings' });
export type ErasureSettings = z.infer<typeof erasureSettings>;

export const erasureSettingsPatch = z
  .object({ graceDays: graceDays.optional(), messagePolicy: z.enum(erasureMessagePolicies).optional() })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, 'name at least one setting');
