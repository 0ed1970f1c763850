import { z } from 'zod';

/**
 * What an export holds of other people's messages in the dialogs its subject can read (docs/privacy.md,
 * "Access and portability"): `full` (as the subject sees them, senders named), `redacted` (the text kept,
 * every other person named by a pseudonym stable within the archive; the default), `none` (left out: only
 * the subject's own messages).
 */
export const exportOthersMessagesPolicies = ['full', 'redacted', 'none'] as const;
export const exportOthersMessagesPolicy = z.enum(exportOthersMessagesPolicies);
export type ExportOthersMessagesPolicy = z.infer<typeof exportOthersMessagesPolicy>;

/**
 * `queued` and `running` while the archive is built; `ready` while it can be downloaded; `failed` when it
 * could not be built; `destroyed` once the archive is gone (expired, deleted, or its subject erased).
 */
export const dataExportStatuses = ['queued', 'running', 'ready', 'failed', 'destroyed'] as const;
export type DataExportStatus = (typeof dataExportStatuses)[number];

export const dataExportDestroyedReasons = [
  'expired',
  'deleted',
  'subject_erased',
  'correspondent_erased',
] as const;
export type DataExportDestroyedReason = (typeof dataExportDestroyedReasons)[number];

/** How far an export's build has gone (`DataExport.progress`). */
export const dataExportProgress = z
  .object({
    section: z.string().nullable(),
    sectionsDone: z.number().int().min(0),
    sectionsTotal: z.number().int().min(1),
  })
  .meta({ id: 'DataExportProgress' });
export type DataExportProgress = z.infer<typeof dataExportProgress>;

/** A data export (GDPR Art. 15 and 20) and where its archive stands. Times are ISO 8601 (UTC). */
export const dataExportBody = z
  .object({
    id: z.string(),
    /** The user whose data it holds. */
    subjectId: z.string(),
    /** Who asked for it: the subject, or an administrator on their behalf. Only they can download it. */
    requestedBy: z.string(),
    source: z.enum(['subject', 'admin']),
    /** The data subject request that records it (GDPR Art. 12), when request tracking is on. */
    requestId: z.string().nullable(),
    status: z.enum(dataExportStatuses),
    /** The tenant's policy for other people's messages when the export was requested. */
    othersMessages: exportOthersMessagesPolicy,
    /** Records written into the archive so far. */
    recordsWritten: z.number().int(),
    /**
     * How far the build has gone, section by section (profile, consents, sessions, dialogs, messages,
     * audit, uploads, ...): `sectionsDone` of `sectionsTotal` sections are in the archive and `section`
     * names the one being read (null when none is: not started yet, or writing the manifest). Sections
     * differ in size (messages is usually the largest), so it is an estimate of the share done, not of the
     * time left; the number of records is not known until each section is read. `sectionsDone` equals
     * `sectionsTotal` once ready; null when the export failed or was destroyed.
     */
    progress: dataExportProgress.nullable(),
    /** Size of the archive (a .tar.gz) once ready. */
    archiveBytes: z.number().int().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    /** When a ready archive is destroyed unless deleted earlier. */
    expiresAt: z.string().nullable(),
    destroyedAt: z.string().nullable(),
    destroyedReason: z.enum(dataExportDestroyedReasons).nullable(),
    /** Why the export failed (a job error code), when it did. */
    errorCode: z.string().nullable(),
    downloads: z.number().int(),
  })
  .meta({ id: 'DataExport' });
export type DataExportBody = z.infer<typeof dataExportBody>;

export const dataExportList = z.object({ exports: z.array(dataExportBody) }).meta({ id: 'DataExportList' });

/** A tenant's export settings, part of `GET/PATCH /v1/tenant/settings` as `privacy`. */
export const exportPrivacySettings = z.object({
  exportOthersMessages: exportOthersMessagesPolicy,
  /** Days a ready archive stays downloadable before it is destroyed. */
  exportRetentionDays: z.number().int(),
});
export type ExportPrivacySettings = z.infer<typeof exportPrivacySettings>;

export const exportPrivacySettingsPatch = z
  .object({
    exportOthersMessages: exportOthersMessagesPolicy.optional(),
    exportRetentionDays: z.number().int().min(1).max(30).optional(),
  })
  .strict();
