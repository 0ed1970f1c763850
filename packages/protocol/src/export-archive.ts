import { z } from 'zod';
import { exportOthersMessagesPolicy } from './rest/data-exports.ts';

/**
 * The format of a data export archive (GDPR Art. 15 and 20), version 1: a gzip-compressed tar whose files
 * are JSON documents described here (and, in every archive, by `schema.json`: these schemas as JSON Schema)
 * plus the subject's own attachment files. docs/privacy.md, "Export archive format", explains each file.
 * Times are ISO 8601 (UTC). Ids are the server's; another person appears under a pseudonym (`anon_…`, the
 * same person always the same within one archive) unless the tenant's policy is `full`.
 *
 * Layout, under one folder `parley-export-<exportId>/`:
 * - `manifest.json`, `profile.json`, `settings.json`, `schema.json`, `README.txt`;
 * - collections, each a folder of pages `000001.json`, `000002.json`, … (`{ collection, page, records }`);
 * - `files/<attachmentId>/<name>`: the subject's own uploads, as uploaded.
 *
 * A change that could break a reader is a new `formatVersion`.
 */
export const EXPORT_FORMAT = 'parley-export';
export const EXPORT_FORMAT_VERSION = 1;

const time = z.string();
const nullableTime = time.nullable();

/** A person other than the subject: their id (`full` policy) or a pseudonym. */
const person = z.string();

export const exportProfile = z.object({
  id: z.string(),
  tenantId: z.string(),
  status: z.enum(['active', 'deactivated', 'restricted', 'erased']),
  displayName: z.string().nullable(),
  email: z.string().nullable(),
  emailVerifiedAt: nullableTime,
  phone: z.string().nullable(),
  profile: z.record(z.string(), z.unknown()).nullable(),
  avatarUrl: z.string().nullable(),
  roles: z.array(z.string()),
  mfaEnabled: z.boolean(),
  passwordChangedAt: nullableTime,
  createdAt: time,
  updatedAt: time,
  lastActiveAt: nullableTime,
});

export const exportSettings = z.object({
  presenceVisibility: z.enum(['everyone', 'contacts', 'nobody']),
});

export const exportConsentState = z.object({
  purposeKey: z.string(),
  version: z.number().int(),
  granted: z.boolean(),
  changedAt: time,
});

export const exportConsentLedgerEntry = z.object({
  id: z.string(),
  purposeKey: z.string(),
  version: z.number().int(),
  /** SHA-256 (hex) of the purpose text that was shown. */
  textHash: z.string(),
  action: z.enum(['grant', 'withdraw']),
  source: z.enum(['signup', 'claim', 'setup', 'self']),
  at: time,
});

/** A sign-in session (a device). Token hashes are never exported. */
export const exportSession = z.object({
  id: z.string(),
  clientId: z.string().nullable(),
  scopes: z.array(z.string()),
  userAgent: z.string().nullable(),
  ip: z.string().nullable(),
  createdAt: time,
  lastUsedAt: time,
  accessExpiresAt: time,
  refreshExpiresAt: nullableTime,
  revokedAt: nullableTime,
  revokedReason: z.string().nullable(),
});

/** A dialog the subject is or was a member of, with their membership. */
export const exportDialog = z.object({
  id: z.string(),
  type: z.enum(['private', 'group', 'broadcast', 'public']),
  name: z.string().nullable(),
  description: z.string().nullable(),
  createdBy: person,
  /** The other person of a private dialog. */
  partner: person.nullable(),
  createdAt: time,
  deletedAt: nullableTime,
  membership: z.object({
    role: z.enum(['owner', 'admin', 'member']),
    joinedAt: time,
    leftAt: nullableTime,
    /** The dialog sequence number at which the subject joined. */
    joinedSeq: z.number().int(),
    /** "Delete for me" of the whole history: messages up to here are hidden from the subject. */
    clearedSeq: z.number().int(),
    muted: z.boolean(),
    pinned: z.boolean(),
  }),
});

/** The subject's read and delivery receipts in one dialog: every message up to the sequence number. */
export const exportReceipt = z.object({
  dialogId: z.string(),
  readSeq: z.number().int(),
  deliveredSeq: z.number().int(),
});

/** A message the subject sent; deleted ones keep their metadata, without the text. */
export const exportSentMessage = z.object({
  id: z.string(),
  dialogId: z.string(),
  seq: z.number().int(),
  clientId: z.string(),
  body: z.string().nullable(),
  properties: z.record(z.string(), z.unknown()).nullable(),
  replyTo: z.string().nullable(),
  mentions: z.array(person),
  /** Ids of the attachments shared with it. */
  attachments: z.array(z.string()),
  createdAt: time,
  editedAt: nullableTime,
  deletedAt: nullableTime,
});

/** Another person's message the subject can read (policy `full` or `redacted`). */
export const exportReceivedMessage = z.object({
  id: z.string(),
  dialogId: z.string(),
  seq: z.number().int(),
  sender: person,
  body: z.string().nullable(),
  properties: z.record(z.string(), z.unknown()).nullable(),
  replyTo: z.string().nullable(),
  mentions: z.array(person),
  attachments: z.array(z.string()),
  createdAt: time,
  editedAt: nullableTime,
});

/** A message the subject deleted for themselves only. */
export const exportHiddenMessage = z.object({ messageId: z.string(), dialogId: z.string() });

export const exportReaction = z.object({
  messageId: z.string(),
  dialogId: z.string(),
  emoji: z.string(),
  createdAt: time,
});

export const exportBlock = z.object({ blocked: person, createdAt: time });

/** A call the subject placed or was called in, with their own part in it. */
export const exportCall = z.object({
  id: z.string(),
  dialogId: z.string().nullable(),
  caller: person,
  media: z.enum(['audio', 'video']),
  state: z.enum(['ringing', 'active', 'ended']),
  outcome: z.enum(['completed', 'missed', 'rejected', 'busy', 'cancelled', 'failed']).nullable(),
  participants: z.array(person),
  createdAt: time,
  answeredAt: nullableTime,
  endedAt: nullableTime,
  participation: z.object({
    state: z.enum(['ringing', 'joined', 'left', 'rejected', 'missed', 'busy']),
    deviceId: z.string().nullable(),
    joinedAt: nullableTime,
    leftAt: nullableTime,
  }),
});

/**
 * An audit entry the subject acted in or that is about them. IP address and user agent only when the
 * subject acted (another person's are theirs).
 */
export const exportAuditEntry = z.object({
  id: z.string(),
  seq: z.number().int(),
  occurredAt: time,
  actor: z.object({ type: z.enum(['user', 'staff', 'system', 'client']), id: person.nullable() }),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string().nullable() }).nullable(),
  outcome: z.enum(['success', 'failure', 'denied']),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});

/** An attachment the subject uploaded; `file` is its path in the archive while it still has content. */
export const exportAttachment = z.object({
  id: z.string(),
  name: z.string().nullable(),
  contentType: z.string().nullable(),
  size: z.number().int(),
  status: z.enum(['complete', 'removed']),
  createdAt: time,
  file: z.string().nullable(),
});

/** A data subject request about the subject (GDPR Art. 12). */
export const exportRequest = z.object({
  id: z.string(),
  kind: z.string(),
  status: z.string(),
  /** The subject's own words, when they gave any. */
  note: z.string().nullable(),
  receivedAt: time,
  dueAt: time,
  closedAt: nullableTime,
  outcome: z.string().nullable(),
});

/**
 * A period in which processing of the subject's account was restricted (GDPR Art. 18), with the reasons given
 * when it was restricted and lifted; the administrators who did it are named like any other person.
 */
export const exportRestriction = z.object({
  id: z.string(),
  /** The data subject request it answered, when it answered one. */
  requestId: z.string().nullable(),
  reason: z.string(),
  restrictedBy: z.string(),
  restrictedAt: time,
  liftReason: z.string().nullable(),
  liftedBy: z.string().nullable(),
  liftedAt: nullableTime,
});

/** Every collection of an archive and the schema of its records. */
export const exportCollections = {
  'consent-states': exportConsentState,
  'consent-ledger': exportConsentLedgerEntry,
  sessions: exportSession,
  dialogs: exportDialog,
  receipts: exportReceipt,
  'messages-sent': exportSentMessage,
  'messages-received': exportReceivedMessage,
  'hidden-messages': exportHiddenMessage,
  reactions: exportReaction,
  blocks: exportBlock,
  calls: exportCall,
  audit: exportAuditEntry,
  attachments: exportAttachment,
  requests: exportRequest,
  restrictions: exportRestriction,
} as const;
export type ExportCollection = keyof typeof exportCollections;
export const exportCollectionNames = Object.keys(exportCollections) as ExportCollection[];

/** One page of a collection: `<collection>/<page, 6 digits>.json`. */
export const exportPage = z.object({
  collection: z.enum(exportCollectionNames as [ExportCollection, ...ExportCollection[]]),
  page: z.number().int().min(1),
  records: z.array(z.unknown()),
});

export const exportManifest = z.object({
  format: z.literal(EXPORT_FORMAT),
  formatVersion: z.literal(EXPORT_FORMAT_VERSION),
  exportId: z.string(),
  tenantId: z.string(),
  subjectId: z.string(),
  /** `subject` (self-service) or `admin` (on the subject's behalf). */
  source: z.enum(['subject', 'admin']),
  othersMessages: exportOthersMessagesPolicy,
  requestedAt: time,
  generatedAt: time,
  /** Per collection: pages (files) and records written. */
  collections: z.record(z.string(), z.object({ pages: z.number().int(), records: z.number().int() })),
  /** Attachment files included. */
  files: z.number().int(),
});
export type ExportManifest = z.infer<typeof exportManifest>;

/** The single-document files, by name. */
export const exportDocuments = {
  'manifest.json': exportManifest,
  'profile.json': exportProfile,
  'settings.json': exportSettings,
} as const;

/**
 * The archive's `schema.json`: every document, collection record and page above as JSON Schema (draft
 * 2020-12), named by file (`manifest.json`) or collection (`messages-sent`).
 */
export function exportArchiveJsonSchema(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [name, schema] of Object.entries(exportDocuments)) registry.add(schema, { id: name });
  for (const [name, schema] of Object.entries(exportCollections)) registry.add(schema, { id: name });
  registry.add(exportPage, { id: 'page' });
  const { schemas } = z.toJSONSchema(registry, { io: 'output' });
  return {
    $comment: `${EXPORT_FORMAT} format version ${EXPORT_FORMAT_VERSION}: a page file is "page" with records of its collection's schema`,
    schemas,
  };
}
