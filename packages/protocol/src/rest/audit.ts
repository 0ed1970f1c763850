import { z } from 'zod';

/** One entry of the tenant's tamper-evident audit log, as `GET /v1/audit` shows it. */
export const auditEntry = z
  .object({
    id: z.string(),
    /** Position in the tenant's hash chain. */
    seq: z.number(),
    occurredAt: z.string(),
    actor: z.object({
      type: z.enum(['user', 'staff', 'system', 'client']),
      id: z.string().nullable(),
      sessionId: z.string().nullable(),
    }),
    /** Dotted, like `auth.login` or `dialog.created`. */
    action: z.string(),
    target: z.object({ type: z.string(), id: z.string().nullable() }).nullable(),
    outcome: z.enum(['success', 'failure', 'denied']),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    requestId: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    /** This entry's link in the chain (hex SHA-256). */
    hash: z.string(),
  })
  .meta({ id: 'AuditEntry' });

/** A page of `GET /v1/audit` (format=json); pass `nextCursor` for the next. */
export const auditPage = z
  .object({ entries: z.array(auditEntry), nextCursor: z.string().optional() })
  .meta({ id: 'AuditPage' });

/**
 * `POST /v1/audit/verification`: the tenant's hash chain recomputed from its first kept entry, its signed
 * checkpoints checked, and compared with the server's anchor file (what `parley audit verify --tenant` does).
 */
export const auditVerification = z
  .object({
    /** Every entry is as it was recorded. */
    ok: z.boolean(),
    /** Entries found intact (before the first bad one, when there is one). */
    entries: z.number(),
    /** Signed checkpoints checked (when ok). */
    checkpoints: z.number().optional(),
    /** Retention removed the chain's oldest entries up to this seq, under a signed record. */
    prunedThrough: z.object({ seq: z.number(), prunedAt: z.string(), olderThan: z.string() }).optional(),
    /** The first entry that is not what was recorded, and why (`hash mismatch`, `sequence gap`, …). */
    firstBad: z.object({ seq: z.number(), id: z.string().optional(), reason: z.string() }).optional(),
    verifiedAt: z.string(),
  })
  .meta({ id: 'AuditVerification' });
