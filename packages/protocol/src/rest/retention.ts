import { z } from 'zod';

/**
 * A retention period: a whole number of minutes (`30m`), hours (`12h`) or days (`90d`). Null where a rule
 * allows it: kept without limit.
 */
export const retentionDuration = z
  .string()
  .regex(/^[1-9][0-9]{0,6}[mhd]$/, 'must be a whole number of minutes, hours or days, like "12h" or "90d"');
export type RetentionDuration = z.infer<typeof retentionDuration>;

/** `hipaa`: audit entries are kept at least six years (45 CFR 164.316(b)(2)). */
export const auditRetentionPresets = ['none', 'hipaa'] as const;
export type AuditRetentionPreset = (typeof auditRetentionPresets)[number];

/**
 * A tenant's retention rules (docs/privacy.md, "Retention"). Each names how long a kind of data is kept after
 * it was created (sessions: after their last use; calls: after they ended; export archives: after they were
 * finished); null keeps it without limit.
 */
export const retentionRulesBody = z
  .object({
    /** Messages, their edits, reactions and deletion events. At least an hour. */
    messages: retentionDuration.nullable(),
    /** Uploaded files (content and name), shared or not. */
    attachments: retentionDuration.nullable(),
    /** Call records and their participants, after the call ended. */
    callRecords: retentionDuration.nullable(),
    /** Search index entries of messages; null: as long as their message. Never longer than messages. */
    searchEntries: retentionDuration.nullable(),
    /** Ended sessions and the sign-in record they hold (IP address, user agent), after their last use. */
    sessions: retentionDuration.nullable(),
    /** Mail in the embedded outbox. */
    mailOutbox: retentionDuration.nullable(),
    /** Finished data exports (their record; the archive itself expires sooner, by the export retention). */
    exportArchives: retentionDuration.nullable(),
    /** `hipaa` requires `auditMinimum` of six years or more. */
    auditPreset: z.enum(auditRetentionPresets),
    /** The legal minimum the tenant keeps its audit log: nothing younger is ever pruned. */
    auditMinimum: retentionDuration,
    /** Audit entries older than this may be pruned (whole signed segments); null keeps them forever. */
    auditMaximum: retentionDuration.nullable(),
    /** IP addresses and user agents of sessions and audit entries are truncated after this many days. */
    ipMinimisationDays: z.number().int().min(1).max(3650),
  })
  .meta({ id: 'RetentionRules' });
export type RetentionRulesBody = z.infer<typeof retentionRulesBody>;

/** `PUT /v1/retention`: any subset of the rules; the others keep their value. */
export const updateRetentionRulesBody = retentionRulesBody.partial().strict();

/**
 * The kinds of data a dialog may override the tenant's rule for: its messages (and their events), the files
 * shared in it, its calls' records, and its messages' search entries.
 */
export const dialogRetentionKinds = ['messages', 'attachments', 'callRecords', 'searchEntries'] as const;
export type DialogRetentionKind = (typeof dialogRetentionKinds)[number];

export const dialogRetentionRules = z.object({
  /** The dialog's messages, their edits, reactions and deletion events. At least an hour. */
  messages: retentionDuration.nullable().optional(),
  /**
   * Files shared in the dialog. A file shared in several dialogs is kept as long as the longest of their rules.
   */
  attachments: retentionDuration.nullable().optional(),
  /** Records of the dialog's calls, after the call ended. */
  callRecords: retentionDuration.nullable().optional(),
  /** Search entries of the dialog's messages; never longer than the dialog's messages. */
  searchEntries: retentionDuration.nullable().optional(),
});
export type DialogRetentionRules = z.infer<typeof dialogRetentionRules>;

/** A dialog's overrides of the tenant's rules; a kind it does not override follows the tenant's rule. */
export const dialogRetentionBody = z
  .object({
    dialogId: z.string(),
    /** The overrides (null: kept without limit); a kind absent here follows the tenant's rule. */
    ...dialogRetentionRules.shape,
    /** The rule each kind of the dialog's data follows now (its override, or the tenant's). */
    effective: z.object({
      messages: retentionDuration.nullable(),
      attachments: retentionDuration.nullable(),
      callRecords: retentionDuration.nullable(),
      searchEntries: retentionDuration.nullable(),
    }),
  })
  .meta({ id: 'DialogRetention' });
export type DialogRetentionView = z.infer<typeof dialogRetentionBody>;

/** Replaces the dialog's overrides with these (at least one kind; a kind left out follows the tenant's rule). */
export const setDialogRetentionBody = dialogRetentionRules
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'name at least one rule')
  .meta({ id: 'SetDialogRetention' });

/** What the next sweep would delete: counts per rule, never contents. */
export const retentionPlanBody = z
  .object({
    /** When the plan was computed (ISO 8601). */
    at: z.string(),
    rules: z.array(
      z.object({
        rule: z.string(),
        /** Rows the sweep would delete now. */
        count: z.number().int(),
        /** Rows the rule would delete but a legal hold keeps. */
        held: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'RetentionPlan' });
export type RetentionPlanBody = z.infer<typeof retentionPlanBody>;

export const legalHoldTargets = ['user', 'dialog', 'tenant'] as const;
export type LegalHoldTarget = (typeof legalHoldTargets)[number];

export const legalHoldBody = z
  .object({
    id: z.string(),
    targetType: z.enum(legalHoldTargets),
    /** The user's or dialog's id; the tenant's id for a hold on the whole tenant. */
    targetId: z.string(),
    reason: z.string(),
    placedBy: z.string(),
    placedAt: z.string(),
    /** When the hold ends by itself; null: until released. */
    endsAt: z.string().nullable(),
    releasedAt: z.string().nullable(),
    releasedBy: z.string().nullable(),
    /** In force now: not released, and not past its end. */
    active: z.boolean(),
  })
  .meta({ id: 'LegalHold' });
export type LegalHoldView = z.infer<typeof legalHoldBody>;
export const legalHoldListBody = z.object({ holds: z.array(legalHoldBody) }).meta({ id: 'LegalHoldList' });

export const placeLegalHoldBody = z
  .object({
    targetType: z.enum(legalHoldTargets),
    /** Required for a user or a dialog; omitted for the tenant. */
    targetId: z.uuid().optional(),
    reason: z.string().trim().min(1).max(2000),
    /** ISO 8601, in the future. */
    endsAt: z.iso.datetime().optional(),
  })
  .strict()
  .meta({ id: 'PlaceLegalHold' });
export type PlaceLegalHold = z.infer<typeof placeLegalHoldBody>;
