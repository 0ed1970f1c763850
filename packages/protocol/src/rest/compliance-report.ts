import { z } from 'zod';

/** How a control stands at the moment of the report. */
export const controlStatuses = ['met', 'attention', 'not_met'] as const;
export type ControlStatus = (typeof controlStatuses)[number];

/** Evidence is plain JSON: numbers, strings, flags, lists and records of them (no personal data but ids). */
export type EvidenceValue =
  string | number | boolean | null | readonly EvidenceValue[] | { readonly [key: string]: EvidenceValue };
/**
 * Any JSON value. Not spelt out recursively: a recursive schema does not survive the OpenAPI document's
 * shared-component pass, and what the evidence holds is documented per control in docs/compliance.md.
 */
const evidenceValue = z
  .unknown()
  .meta({ description: 'A JSON value: number, string, flag, list or record.' }) as z.ZodType<EvidenceValue>;

/** One promise of the installation, how it maps to the law, and how it stands now with its evidence. */
export const complianceControl = z
  .object({
    id: z.string(),
    title: z.string(),
    /** The promise, in one sentence. */
    promise: z.string(),
    /** HIPAA Security Rule items (45 CFR §164.308 administrative, §164.312 technical safeguards). */
    hipaa: z.array(z.string()),
    /** GDPR articles (and paragraphs). */
    gdpr: z.array(z.string()),
    /** `installation`: the same for every tenant; `tenant`: this tenant's own state. */
    scope: z.enum(['installation', 'tenant']),
    status: z.enum(controlStatuses),
    /** Why the status is not `met` (empty when it is). */
    findings: z.array(z.string()),
    evidence: z.record(z.string(), evidenceValue),
  })
  .meta({ id: 'ComplianceControl' });
export type ComplianceControl = z.infer<typeof complianceControl>;

/** The evidence report: every control computed from live state at `generatedAt`. Times are ISO 8601 (UTC). */
export const complianceReport = z
  .object({
    format: z.literal('parley-compliance-report/1'),
    reportId: z.string(),
    generatedAt: z.string(),
    /** Who asked: `user:<id>` through the API, `cli` for the operator's command line. */
    requestedBy: z.string(),
    installation: z.object({ version: z.string() }),
    /** Null for an installation-wide report (installation controls only). */
    tenant: z.object({ id: z.string(), name: z.string() }).nullable(),
    /** The worst status of any control. */
    overall: z.enum(controlStatuses),
    counts: z.object({ met: z.number(), attention: z.number(), not_met: z.number() }),
    controls: z.array(complianceControl),
  })
  .meta({ id: 'ComplianceReport' });
export type ComplianceReport = z.infer<typeof complianceReport>;

/** The report as issued: signed with the audit signing key (Ed25519 over its canonical JSON). */
export const signedComplianceReport = z
  .object({
    report: complianceReport,
    /** Ed25519 over the report's canonical JSON (keys sorted, no spaces), base64. */
    signature: z.string(),
    keyId: z.string(),
    /** The signing key's public half (DER SubjectPublicKeyInfo, base64), to verify without the server. */
    publicKey: z.string(),
    algorithm: z.literal('Ed25519'),
  })
  .meta({ id: 'SignedComplianceReport' });
export type SignedComplianceReport = z.infer<typeof signedComplianceReport>;

/** `GET /v1/compliance/report?format=json|html`. */
export const complianceReportQuery = z.object({ format: z.enum(['json', 'html']).default('json') }).strict();
