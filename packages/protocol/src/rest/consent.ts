import { z } from 'zod';

/** GDPR Art. 6(1) (a)–(f): why a tenant may process personal data for a purpose. */
export const lawfulBases = [
  'consent',
  'contract',
  'legal_obligation',
  'vital_interests',
  'public_task',
  'legitimate_interests',
] as const;
export const lawfulBasis = z.enum(lawfulBases);
export type LawfulBasis = z.infer<typeof lawfulBasis>;

/** A purpose's key: stable across versions, unique in its tenant (`service`, `newsletter`, `analytics`). */
export const purposeKey = z
  .string()
  .regex(
    /^[a-z][a-z0-9_]{1,63}$/,
    'must be 2 to 64 lower-case letters, digits and _, starting with a letter',
  );

/** One version of a processing purpose as users read it before they accept it. */
export const consentPurposeBody = z
  .object({
    key: z.string(),
    version: z.number().int(),
    title: z.string(),
    text: z.string(),
    /** SHA-256 (hex) of `text` as UTF-8: what the ledger records with every grant and withdrawal. */
    textHash: z.string(),
    lawfulBasis,
    /** Sign-up and use of the service need this purpose's current version accepted. */
    required: z.boolean(),
    /** Inactive purposes are no longer offered; nobody is asked to accept them. */
    active: z.boolean(),
    /** When this version was published (ISO 8601). */
    publishedAt: z.string(),
  })
  .meta({ id: 'ConsentPurpose' });
export type ConsentPurpose = z.infer<typeof consentPurposeBody>;
export const consentPurposeListBody = z
  .object({ purposes: z.array(consentPurposeBody) })
  .meta({ id: 'ConsentPurposeList' });

/** A purpose version the user read and accepts, as sign-up, invitation claim and owner setup carry them. */
export const acceptedPurpose = z.object({ key: purposeKey, version: z.number().int().min(1) }).strict();
export type AcceptedPurpose = z.infer<typeof acceptedPurpose>;
export const acceptedPurposes = z
  .array(acceptedPurpose)
  .max(50)
  .refine(
    (list) => new Set(list.map((entry) => entry.key)).size === list.length,
    'must name each purpose once',
  );

/**
 * The caller's standing for one purpose: `granted` (its current version), `outdated` (an older version: the
 * text changed since), `withdrawn`, or `none` (never given; optional purposes start here).
 */
export const consentState = z.enum(['granted', 'outdated', 'withdrawn', 'none']);
export type ConsentState = z.infer<typeof consentState>;

export const myConsentBody = z
  .object({
    purpose: consentPurposeBody,
    state: consentState,
    /** The version the user last granted or withdrew; null when they never did either. */
    version: z.number().int().nullable(),
    /** When the state last changed (ISO 8601); null for `none`. */
    changedAt: z.string().nullable(),
  })
  .meta({ id: 'MyConsent' });
export type MyConsent = z.infer<typeof myConsentBody>;
export const myConsentListBody = z.object({ consents: z.array(myConsentBody) }).meta({ id: 'MyConsentList' });

/** `PUT /v1/me/consents/{key}`: the version must be the current one (the one the user just read). */
export const grantConsentBody = z.object({ version: z.number().int().min(1) }).strict();

export const createPurposeBody = z
  .object({
    key: purposeKey,
    title: z.string().trim().min(1).max(200),
    text: z.string().trim().min(1).max(20_000),
    lawfulBasis,
    required: z.boolean().default(false),
    active: z.boolean().default(true),
  })
  .strict();
export type CreatePurposeBody = z.input<typeof createPurposeBody>;

/** A change of title, text or lawful basis publishes a new version; `required`/`active` change in place. */
export const updatePurposeBody = z
  .object({
    title: z.string().trim().min(1).max(200).optional(),
    text: z.string().trim().min(1).max(20_000).optional(),
    lawfulBasis: lawfulBasis.optional(),
    required: z.boolean().optional(),
    active: z.boolean().optional(),
  })
  .strict();
export type UpdatePurposeBody = z.infer<typeof updatePurposeBody>;

/** One row of a user's consent ledger: the proof of what they granted or withdrew, and when (ISO 8601). */
export const consentLedgerEntryBody = z.object({
  purposeKey: z.string(),
  version: z.number().int(),
  textHash: z.string(),
  action: z.enum(['grant', 'withdraw']),
  source: z.enum(['signup', 'claim', 'setup', 'self']),
  at: z.string(),
});
export type ConsentLedgerEntry = z.infer<typeof consentLedgerEntryBody>;
export const consentLedgerBody = z
  .object({ entries: z.array(consentLedgerEntryBody) })
  .meta({ id: 'ConsentLedger' });

/** How many active users stand where for a purpose's current version. */
export const purposeCoverageBody = z.object({
  key: z.string(),
  version: z.number().int(),
  required: z.boolean(),
  active: z.boolean(),
  activeUsers: z.number().int(),
  granted: z.number().int(),
  outdated: z.number().int(),
  withdrawn: z.number().int(),
  none: z.number().int(),
});
export type PurposeCoverage = z.infer<typeof purposeCoverageBody>;
export const consentCoverageBody = z
  .object({ purposes: z.array(purposeCoverageBody) })
  .meta({ id: 'ConsentCoverage' });
