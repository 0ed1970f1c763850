import type {
  DataSubjectRequestKind,
  DataSubjectRequestSource,
  DataSubjectRequestStatus,
} from '@parley/protocol';
import type { LawfulBasis } from '@parley/protocol';
import type { ErasureMessagePolicy, ErasureStatus } from '@parley/protocol';
import type {
  DataExportDestroyedReason,
  DataExportStatus,
  ExportOthersMessagesPolicy,
} from '@parley/protocol';

/**
 * Row shapes of every table, as Kysely sees them. Times are milliseconds since the Unix epoch (UTC) in a
 * BIGINT column on both dialects, so ordering and arithmetic are the same everywhere.
 */
export interface Database {
  tenants: TenantsTable;
  tenant_setup_tokens: TenantSetupTokensTable;
  master_key_checks: MasterKeyChecksTable;
  signing_keys: SigningKeysTable;
  tenant_keys: TenantKeysTable;
  platform_keys: PlatformKeysTable;
  users: UsersTable;
  user_keys: UserKeysTable;
  audit_log: AuditLogTable;
  audit_heads: AuditHeadsTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_prunes: AuditPrunesTable;
  access_log: AccessLogTable;
  tenant_settings: TenantSettingsTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  sessions: SessionsTable;
  used_refresh_tokens: UsedRefreshTokensTable;
  user_tokens: UserTokensTable;
  oauth_clients: OAuthClientsTable;
  mail_outbox: MailOutboxTable;
  dialogs: DialogsTable;
  dialog_members: DialogMembersTable;
  messages: MessagesTable;
  message_search: MessageSearchTable;
  message_search_terms: MessageSearchTermsTable;
  dialog_events: DialogEventsTable;
  message_reactions: MessageReactionsTable;
  hidden_messages: HiddenMessagesTable;
  user_blocks: UserBlocksTable;
  calls: CallsTable;
  call_participants: CallParticipantsTable;
  attachments: AttachmentsTable;
  attachment_chunks: AttachmentChunksTable;
  attachment_shares: AttachmentSharesTable;
  parley_meta: { key: string; value: string };
  job_leases: JobLeasesTable;
  scheduled_tasks: ScheduledTasksTable;
  jobs: JobsTable;
  consent_purposes: ConsentPurposesTable;
  consent_ledger: ConsentLedgerTable;
  consent_states: ConsentStatesTable;
  data_subject_requests: DataSubjectRequestsTable;
  user_restrictions: UserRestrictionsTable;
  data_exports: DataExportsTable;
  data_export_parts: DataExportPartsTable;
  data_export_chunks: DataExportChunksTable;
  erasures: ErasuresTable;
  tenant_closures: TenantClosuresTable;
  alert_states: AlertStatesTable;
  staff_accounts: StaffAccountsTable;
  staff_sessions: StaffSessionsTable;
  support_grants: SupportGrantsTable;
  support_policies: SupportPoliciesTable;
  support_reviews: SupportReviewsTable;
  incidents: IncidentsTable;
  incident_actions: IncidentActionsTable;
  incident_tenants: IncidentTenantsTable;
  incident_notices: IncidentNoticesTable;
  risks: RisksTable;
  change_records: ChangeRecordsTable;
  legal_requests: LegalRequestsTable;
  legal_packages: LegalPackagesTable;
  legal_package_chunks: LegalPackageChunksTable;
  retention_rules: RetentionRulesTable;
  legal_holds: LegalHoldsTable;
  retention_sweeps: RetentionSweepsTable;
}

export type DialogType = 'private' | 'group' | 'broadcast' | 'public';

export interface DialogsTable {
  id: string;
  tenant_id: string;
  type: DialogType;
  /** For private dialogs: the two user ids, sorted, so a pair has one dialog. */
  pair_key: string | null;
  /** Field-cipher envelopes (tenant key). */
  name: string | null;
  description: string | null;
  photo_url: string | null;
  custom_data: string | null;
  created_by: string;
  /** 1: members see only what was sent after they joined. */
  hide_history: number;
  last_seq: number;
  /**
   * The highest sequence number whose change the retention sweeper removed for good (migration 0027): a resume
   * from below it is answered with a resync.
   */
  pruned_seq: number;
  last_activity_at: number;
  created_at: number;
  deleted_at: number | null;
}

export interface DialogMembersTable {
  tenant_id: string;
  dialog_id: string;
  user_id: string;
  role: 'owner' | 'admin' | 'member';
  joined_seq: number;
  joined_at: number;
  left_at: number | null;
  read_seq: number;
  /** Delivered receipt: every message up to here reached one of the member's devices. */
  delivered_seq: number;
  /** "Delete for me": history up to here is hidden from this member. */
  cleared_seq: number;
  muted: number;
  pinned: number;
}

export interface MessagesTable {
  id: string;
  tenant_id: string;
  dialog_id: string;
  seq: number;
  sender_id: string;
  client_id: string;
  /** Field-cipher envelope (tenant key); null once deleted for everyone. */
  body: string | null;
  reply_to: string | null;
  /** JSON array of user ids. */
  mentions: string;
  /** Field-cipher envelope of a JSON object. */
  properties: string | null;
  created_at: number;
  edited_at: number | null;
  deleted_at: number | null;
}

export type DialogEventKind = 'edited' | 'deleted' | 'reactions';

/** A sequenced change to an existing message; the message row holds the state after it. */
export interface DialogEventsTable {
  tenant_id: string;
  dialog_id: string;
  seq: number;
  kind: DialogEventKind;
  message_id: string;
  actor_id: string;
  created_at: number;
}

export interface MessageReactionsTable {
  tenant_id: string;
  message_id: string;
  user_id: string;
  emoji: string;
  created_at: number;
}

/** "Delete for me" of one message. */
export interface HiddenMessagesTable {
  tenant_id: string;
  message_id: string;
  user_id: string;
}

export interface UserBlocksTable {
  tenant_id: string;
  user_id: string;
  blocked_id: string;
  created_at: number;
}

/**
 * `removed`: erased (content, key and name gone); the row stays only while a message still shows it, as a
 * tombstone.
 */
export type AttachmentStatus = 'uploading' | 'complete' | 'removed';

/** An uploaded file; its content is in `attachment_chunks`. Only `complete` attachments can be shared or read. */
export interface AttachmentsTable {
  id: string;
  tenant_id: string;
  uploader_id: string;
  status: AttachmentStatus;
  /** Field-cipher envelope (tenant key). */
  name: string;
  /** The Content-Type the uploader sent, kept for reference; never served. */
  declared_type: string | null;
  /** Sniffed from the content; what downloads are served as. */
  content_type: string;
  /** Plaintext bytes. */
  size: number;
  /** Field-cipher envelope (tenant key) of the base64 stream-cipher key of this attachment alone. */
  content_key: string;
  /** Base64 of the stream-cipher header (format, chunk size, salt, nonce prefix). */
  stream_header: string;
  chunk_count: number;
  created_at: number;
  completed_at: number | null;
}

/** One sealed stream-cipher chunk: chunk `idx` of the attachment's ciphertext, tag included. */
export interface AttachmentChunksTable {
  tenant_id: string;
  attachment_id: string;
  idx: number;
  data: Buffer;
}

/** An attachment shared in a message; members of the message's dialog may download it. */
export interface AttachmentSharesTable {
  tenant_id: string;
  attachment_id: string;
  message_id: string;
  dialog_id: string;
  /** Order within the message. */
  position: number;
}

/**
 * The search index entry of a message: blind tokens only (migration 0007). SQLite adds `doc_id`, the row id
 * of the FTS5 table `message_search_fts` holding the tokens; PostgreSQL adds `tokens`, a tsvector.
 */
export interface MessageSearchTable {
  message_id: string;
  tenant_id: string;
}

/**
 * PostgreSQL only: which messages hold a blind token (the B-tree that finds candidates). Since migration 0038
 * `token` is `bytea` and `message_id` a `uuid`; the queries convert (`postgres-search-index.ts`).
 */
export interface MessageSearchTermsTable {
  tenant_id: string;
  token: Buffer;
  message_id: string;
}

export interface CallsTable {
  id: string;
  tenant_id: string;
  dialog_id: string | null;
  caller_id: string;
  caller_device_id: string;
  media: 'audio' | 'video';
  state: 'ringing' | 'active' | 'ended';
  outcome: 'completed' | 'missed' | 'rejected' | 'busy' | 'cancelled' | 'failed' | null;
  created_at: number;
  answered_at: number | null;
  ended_at: number | null;
}

export interface CallParticipantsTable {
  tenant_id: string;
  call_id: string;
  user_id: string;
  state: 'ringing' | 'joined' | 'left' | 'rejected' | 'missed' | 'busy';
  device_id: string | null;
  joined_at: number | null;
  left_at: number | null;
}

export interface MailOutboxTable {
  id: string;
  tenant_id: string;
  /** Field-cipher envelope (tenant key). */
  recipient: string;
  /** Field-cipher envelope (tenant key). */
  subject: string;
  /** Field-cipher envelope (tenant key). */
  body: string;
  kind: string;
  created_at: number;
  /** Set when an SMTP relay accepted it; null in the embedded outbox. */
  sent_at: number | null;
}

export interface TenantsTable {
  id: string;
  name: string;
  /** `closed` while a closure's export window runs (read-only), `purging` while its purge runs. */
  status: 'active' | 'suspended' | 'closed' | 'purging';
  created_at: number;
  /** 1 while a data-key rotation still has user keys to re-wrap. */
  key_rotation_pending?: number;
}

export interface TenantSetupTokensTable {
  id: string;
  tenant_id: string;
  token_hash: string;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

export interface MasterKeyChecksTable {
  version: number;
  sealed_check: string;
  created_at: number;
}

export interface SigningKeysTable {
  id: string;
  public_key: string;
  wrapped_private_key: string;
  master_version: number;
  created_at: number;
  retired_at: number | null;
}

export type TenantKeyPurpose = 'data' | 'index';

/** The platform's own data and index keys (data of no tenant), wrapped by the master key. */
export interface PlatformKeysTable {
  purpose: TenantKeyPurpose;
  version: number;
  wrapped_key: string;
  master_version: number;
  created_at: number;
}

export interface TenantKeysTable {
  tenant_id: string;
  purpose: TenantKeyPurpose;
  version: number;
  wrapped_key: string;
  master_version: number;
  created_at: number;
  retired_at: number | null;
}

/** Personal columns hold field-cipher envelopes, never plaintext; `*_index` columns hold blind indexes. */
export interface UsersTable {
  id: string;
  tenant_id: string;
  /** `restricted`: processing restricted (GDPR Art. 18); `user_restrictions` keeps the status before. */
  status: UserStatus;
  display_name: string | null;
  email: string | null;
  email_index: string | null;
  phone: string | null;
  phone_index: string | null;
  profile: string | null;
  created_at: number;
  updated_at: number;
  password_hash?: string | null;
  password_changed_at?: number | null;
  /** JSON array of previous argon2 hashes, newest first. */
  password_history?: string | null;
  must_change_password?: number | null;
  failed_logins?: number | null;
  locked_until?: number | null;
  email_verified_at?: number | null;
  /** Field-cipher envelopes (user key). */
  totp_secret?: string | null;
  totp_pending_secret?: string | null;
  totp_last_step?: number | null;
  totp_enabled_at?: number | null;
  /** JSON array of HMAC hashes; used codes are replaced by null. */
  recovery_codes?: string | null;
  /** Field-cipher envelope (user key). */
  avatar_url?: string | null;
  /** Who sees this user's presence: everyone in the tenant, people sharing a dialog, or nobody. */
  presence_visibility?: PresenceVisibility;
  /** Last time a realtime connection of the user closed (or, when online, opened). */
  last_active_at?: number | null;
}

export type PresenceVisibility = 'everyone' | 'contacts' | 'nobody';

export interface UserKeysTable {
  tenant_id: string;
  user_id: string;
  /** Null once destroyed (crypto-shredding). */
  wrapped_key: string | null;
  data_key_version: number;
  created_at: number;
  destroyed_at: number | null;
}

export interface AuditLogTable {
  tenant_id: string;
  seq: number;
  id: string;
  occurred_at: number;
  actor_type: string;
  actor_id: string | null;
  session_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: string;
  /** Field-cipher envelopes (personal data). */
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  /** Canonical JSON. */
  details: string;
  prev_hash: string;
  hash: string;
  /**
   * SHA-256 over the ip and user agent envelopes as first written; the hash covers this instead of them, so
   * they can be minimised later (see `canonicalEntry`). Null on entries written before migration 0023.
   */
  pii_commitment: string | null;
  /** When the ip was truncated and the user agent dropped; null while they are as written. */
  pii_minimised_at: number | null;
}

/**
 * One read of message content or a file (compliance/access-log/): who, which dialog and sequence range or
 * file, when, from which session. Names people by id only (pseudonymous, like audit entries).
 */
export interface AccessLogTable {
  tenant_id: string;
  id: string;
  /** The `seq` of the `access_log.recorded` audit entry that chains this row's batch. */
  batch_seq: number;
  kind: 'history' | 'search' | 'attachment' | 'realtime' | 'export';
  reader_type: 'user' | 'staff' | 'client';
  /** The user's id; the staff member's id under a support grant; the API client's id. */
  reader_id: string | null;
  grant_id: string | null;
  session_id: string | null;
  dialog_id: string | null;
  from_seq: number | null;
  to_seq: number | null;
  /** The attachment's or the export's id. */
  file_id: string | null;
  first_read_at: number;
  last_read_at: number;
}

/** A signed "pruned up to" record: the chain's entries up to `seq` were removed by retention. */
export interface AuditPrunesTable {
  tenant_id: string;
  /** The last removed entry: a signed checkpoint. */
  seq: number;
  /** That entry's hash: the next entry's `prev_hash`. */
  hash: string;
  /** Entries removed by this pruning. */
  entries: number;
  /** The retention cut-off: every removed entry occurred before it (ms). */
  older_than: number;
  pruned_at: number;
  key_id: string;
  signature: string;
}

export interface AuditHeadsTable {
  tenant_id: string;
  seq: number;
  hash: string;
}

export interface AuditCheckpointsTable {
  tenant_id: string;
  seq: number;
  hash: string;
  signed_at: number;
  key_id: string;
  signature: string;
}

export type SignupMode = 'open' | 'invite_only' | 'admin_created';

export interface TenantSettingsTable {
  tenant_id: string;
  signup_mode: SignupMode;
  /** JSON of the password policy; missing keys take the defaults. */
  password_policy: string;
  access_token_ttl_seconds: number;
  idle_timeout_seconds: number;
  refresh_token_ttl_seconds: number;
  max_group_members?: number;
  /** UTF-8 bytes of a message body. */
  max_message_bytes?: number;
  max_attachment_bytes?: number;
  /** 0: messages may be edited at any time. */
  edit_window_seconds?: number;
  call_policy?: 'shared_dialog' | 'tenant';
  /** What a data export holds of other people's messages; null: the default (`redacted`). */
  export_others_messages?: ExportOthersMessagesPolicy | null;
  /** Days a ready export archive is kept; null: the default (7). */
  export_retention_days?: number | null;
  /** Days between an erasure request and the erasure; null: the default (14). */
  erasure_grace_days?: number | null;
  /** What erasure does to the user's messages; null: the default (`erase`). */
  erasure_message_policy?: ErasureMessagePolicy | null;
  /** Access logging (compliance/access-log/): `on`, `off`; null follows the audit preset (on with `hipaa`). */
  access_logging?: 'on' | 'off' | null;
  updated_at: number;
}

export interface RolesTable {
  tenant_id: string;
  name: string;
  /** JSON array of permissions. */
  permissions: string;
  created_at: number;
}

export interface UserRolesTable {
  tenant_id: string;
  user_id: string;
  role: string;
}

export interface SessionsTable {
  id: string;
  tenant_id: string;
  /** Null for client_credentials sessions. */
  user_id: string | null;
  client_id: string | null;
  /** Space-separated scopes. */
  scopes: string;
  access_token_hash: string;
  access_expires_at: number;
  refresh_token_hash: string | null;
  refresh_expires_at: number | null;
  /** Field-cipher envelope (tenant key): user agent and IP at sign-in. */
  device: string | null;
  /**
   * When the device's ip was truncated and its user agent dropped; null (or left out on insert) while they
   * are as written.
   */
  device_minimised_at?: number | null;
  created_at: number;
  last_used_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
}

export interface UsedRefreshTokensTable {
  token_hash: string;
  tenant_id: string;
  session_id: string;
  used_at: number;
}

export type UserTokenPurpose = 'mfa' | 'password_reset' | 'email_verification' | 'email_change' | 'invite';

export interface UserTokensTable {
  token_hash: string;
  tenant_id: string;
  user_id: string;
  purpose: UserTokenPurpose;
  payload: string | null;
  attempts: number;
  expires_at: number;
  used_at: number | null;
}

export interface OAuthClientsTable {
  id: string;
  tenant_id: string;
  name: string;
  secret_hash: string;
  scopes: string;
  created_at: number;
  revoked_at: number | null;
}

/**
 * Every table whose rows belong to one tenant. Each has a `tenant_id` column and, on PostgreSQL, a forced
 * row-level security policy; a test checks this list against the live schema.
 */
export const tenantOwnedTables = [
  'attachment_chunks',
  'attachment_shares',
  'attachments',
  'audit_checkpoints',
  'audit_heads',
  'audit_log',
  'audit_prunes',
  'call_participants',
  'calls',
  'consent_ledger',
  'consent_purposes',
  'consent_states',
  'data_export_chunks',
  'data_export_parts',
  'data_exports',
  'dialog_events',
  'dialog_members',
  'dialogs',
  'data_subject_requests',
  'erasures',
  'hidden_messages',
  'jobs',
  'mail_outbox',
  'message_reactions',
  'message_search',
  'message_search_terms',
  'messages',
  'oauth_clients',
  'roles',
  'sessions',
  'tenant_closures',
  'tenant_keys',
  'tenant_settings',
  'tenant_setup_tokens',
  'used_refresh_tokens',
  'user_blocks',
  'user_keys',
  'user_restrictions',
  'user_roles',
  'user_tokens',
  'users',
  'legal_holds',
  'retention_rules',
  'retention_sweeps',
  'support_grants',
  'support_policies',
  'incident_tenants',
  'incident_notices',
  'access_log',
  'legal_package_chunks',
  'legal_packages',
] as const satisfies readonly (keyof Database)[];

/** A cluster-wide lease; `token` is the fencing token, one higher at every acquisition. */
export interface JobLeasesTable {
  name: string;
  holder: string;
  token: number;
  expires_at: number;
}

export type ScheduledTaskOutcome = 'succeeded' | 'failed';

export interface ScheduledTasksTable {
  name: string;
  /** The cron expression `next_run_at` was computed from; a changed expression recomputes it. */
  cron: string;
  next_run_at: number;
  last_started_at: number | null;
  last_finished_at: number | null;
  last_outcome: ScheduledTaskOutcome | null;
  last_error_code: string | null;
}

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** A durable background job (jobs/job-store.ts). Payload and progress hold ids only, never personal data. */
export interface JobsTable {
  id: string;
  /** Null for a system job. */
  tenant_id: string | null;
  kind: string;
  state: JobState;
  /** JSON. */
  payload: string;
  /** JSON checkpoint a resumed run starts from. */
  progress: string | null;
  attempts: number;
  max_attempts: number;
  run_after: number;
  /** The node holding the claim while running; with `attempts` it names one claim. */
  locked_by: string | null;
  locked_until: number | null;
  cancel_requested: number;
  error_code: string | null;
  error_message: string | null;
  requested_by: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export type UserStatus = 'active' | 'deactivated' | 'restricted' | 'erased';

/**
 * A GDPR data subject request (compliance/gdpr/dsr-service.ts). Free text is sealed: `note` under the
 * subject's key (theirs, shredded with them), `extension_reason` and `outcome` under the tenant key (the
 * record outlives the subject).
 */
export interface DataSubjectRequestsTable {
  id: string;
  tenant_id: string;
  subject_id: string;
  kind: DataSubjectRequestKind;
  source: DataSubjectRequestSource;
  requested_by: string | null;
  status: DataSubjectRequestStatus;
  received_at: number;
  /** received_at + 30 days. */
  deadline_at: number;
  /** At most received_at + 90 days (GDPR Art. 12(3)). */
  extended_until: number | null;
  extension_reason: string | null;
  note: string | null;
  outcome: string | null;
  handled_by: string | null;
  closed_at: number | null;
  created_at: number;
  updated_at: number;
}

/** One period of restricted processing of a user (GDPR Art. 18); open while `lifted_at` is null. */
export interface UserRestrictionsTable {
  id: string;
  tenant_id: string;
  user_id: string;
  /** The request it answered. */
  request_id: string | null;
  /** The status to give back when lifted. */
  prior_status: 'active' | 'deactivated';
  /** Field-cipher envelopes (tenant key). */
  reason: string;
  restricted_by: string;
  restricted_at: number;
  lifted_at: number | null;
  lifted_by: string | null;
  lift_reason: string | null;
}

/** One version of a tenant's processing purpose (compliance/gdpr/consent-purpose-store.ts). */
export interface ConsentPurposesTable {
  tenant_id: string;
  key: string;
  version: number;
  title: string;
  text: string;
  /** SHA-256 (hex) of `text`. */
  text_hash: string;
  lawful_basis: LawfulBasis;
  /** 1: sign-up and use of the service need the current version accepted. */
  required: number;
  /** 0: no longer offered. */
  active: number;
  /** When this version was published. */
  created_at: number;
  updated_at: number;
  /** When a newer version replaced this one; null for the current version. */
  superseded_at: number | null;
}

export type ConsentAction = 'grant' | 'withdraw';
/** Where a grant or withdrawal was made: sign-up, invitation claim, owner setup, or the user's own call. */
export type ConsentSource = 'signup' | 'claim' | 'setup' | 'self';

/** Append-only proof of every grant and withdrawal; no personal data beyond the pseudonymous user id. */
export interface ConsentLedgerTable {
  id: string;
  tenant_id: string;
  user_id: string;
  purpose_key: string;
  version: number;
  text_hash: string;
  action: ConsentAction;
  source: ConsentSource;
  at: number;
}

/** A user's latest standing per purpose, kept equal to their newest ledger row for it. */
export interface ConsentStatesTable {
  tenant_id: string;
  user_id: string;
  purpose_key: string;
  /** The version last granted or withdrawn. */
  version: number;
  /** 1: granted; 0: withdrawn. */
  granted: number;
  changed_at: number;
}

/**
 * A GDPR data export (compliance/gdpr/export-service.ts). `archive_key` is the archive's own stream key,
 * sealed with the tenant key; null once the archive is destroyed.
 */
export interface DataExportsTable {
  id: string;
  tenant_id: string;
  subject_id: string;
  requested_by: string;
  source: 'subject' | 'admin';
  /** The data subject request recording it, when request tracking is wired. */
  request_id: string | null;
  job_id: string;
  status: DataExportStatus;
  others_messages: ExportOthersMessagesPolicy;
  retention_days: number;
  archive_key: string | null;
  part_count: number;
  /** Plaintext bytes of the archive (the .tar.gz), once ready. */
  archive_bytes: number;
  records: number;
  error_code: string | null;
  download_count: number;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  expires_at: number | null;
  destroyed_at: number | null;
  destroyed_reason: DataExportDestroyedReason | null;
  updated_at: number;
}

/** One part of an export archive: a STREAM-encrypted gzip member of tar entries. */
export interface DataExportPartsTable {
  tenant_id: string;
  export_id: string;
  part: number;
  /** Base64 of the part's stream-cipher header. */
  stream_header: string;
  chunk_count: number;
  plain_size: number;
}

/** One sealed stream-cipher chunk of an export part. */
export interface DataExportChunksTable {
  tenant_id: string;
  export_id: string;
  part: number;
  idx: number;
  data: Buffer;
}

/**
 * An erasure of a user (compliance/gdpr/erasure-service.ts): ids, times, its state and, once completed, the
 * certificate (canonical JSON of counts and times) with its Ed25519 signature. `source` `register`: re-done at
 * start-up from the erasure register after a restore brought the account back.
 */
export interface ErasuresTable {
  id: string;
  tenant_id: string;
  user_id: string;
  request_id: string | null;
  source: 'subject' | 'admin' | 'register';
  requested_by: string | null;
  status: ErasureStatus;
  message_policy: ErasureMessagePolicy;
  job_id: string | null;
  requested_at: number;
  /** The end of the grace period. */
  erase_after: number;
  started_at: number | null;
  completed_at: number | null;
  cancelled_at: number | null;
  cancelled_by: string | null;
  certificate: string | null;
  signature: string | null;
  key_id: string | null;
  updated_at: number;
}

/** A tenant's retention rules (`dialog_id` '') or a dialog's override: JSON of durations (retention-rules.ts). */
export interface RetentionRulesTable {
  tenant_id: string;
  dialog_id: string;
  rules: string;
  updated_at: number;
}

/** A legal hold on a user, a dialog or the whole tenant; in force while not released and not past `ends_at`. */
export interface LegalHoldsTable {
  id: string;
  tenant_id: string;
  target_type: 'user' | 'dialog' | 'tenant';
  /** The user's or dialog's id, or the tenant's own id. */
  target_id: string;
  /** Field-cipher envelope (tenant key). */
  reason: string;
  placed_by: string;
  placed_at: number;
  ends_at: number | null;
  released_at: number | null;
  released_by: string | null;
}

/** What one tenant's retention sweep deleted so far (JSON counts and id ranges per rule); the receipt's source. */
export interface RetentionSweepsTable {
  id: string;
  tenant_id: string;
  started_at: number;
  finished_at: number | null;
  counts: string;
}

export type AlertStatus = 'firing' | 'resolved';

/** An alert the embedded alerting raised (alerting/alert-state-store.ts); ids and times only, no personal data. */
export interface AlertStatesTable {
  /** `<condition>[:<subject>][@<node>]`. */
  key: string;
  condition: string;
  /** The node a per-node condition was seen on; null for a cluster-wide condition. */
  node_id: string | null;
  status: AlertStatus;
  severity: string;
  summary: string;
  started_at: number;
  /** When the last firing notice went out; null while none could be delivered yet. */
  last_notified_at: number | null;
  /** When it resolved; its resolved notice is due while `last_notified_at` is before it. */
  resolved_at: number | null;
  updated_at: number;
}

export type TenantClosureStage = 'closed' | 'reopened' | 'purging' | 'purged';

/** A closure of a tenant and, once purged, its certificate of deletion (tenancy/tenant-close-service.ts). */
export interface TenantClosuresTable {
  id: string;
  tenant_id: string;
  stage: TenantClosureStage;
  closed_at: number;
  /** `operator`, or `user:<id>` for an owner. */
  closed_by: string;
  /** End of the export window: the purge runs from then on. */
  purge_after: number;
  reopened_at: number | null;
  reopened_by: string | null;
  purge_started_at: number | null;
  purged_at: number | null;
  /** JSON `TenantPurgeProgress`: rows deleted per table and keys destroyed so far. */
  progress: string;
  /** JSON of the signed certificate of deletion, once purged. */
  certificate: string | null;
  signature: string | null;
  key_id: string | null;
  updated_at: number;
}

/** An operator staff member (platform/staff-service.ts): belongs to no tenant. */
export interface StaffAccountsTable {
  id: string;
  /** Field-cipher envelope (platform key) of the lower-case address; plain only until start-up seals it. */
  email: string;
  /** Blind index of the address (platform index key): the sign-in lookup; unique. Null only until sealed. */
  email_index: string | null;
  role: 'platform_admin' | 'support' | 'security_officer';
  /** argon2id; null until enrolment sets it. */
  password_hash: string | null;
  /** The base32 TOTP secret wrapped under the master key (`Keyring.wrapWithMaster`). */
  totp_secret: string;
  totp_master_version: number;
  /** The last TOTP time step accepted: no code is accepted twice. */
  totp_last_step: number | null;
  /** SHA-256 of the one-time enrolment token; null once used. */
  enrolment_hash: string | null;
  enrolment_expires_at: number | null;
  enrolled_at: number | null;
  created_at: number;
  disabled_at: number | null;
}

/** A staff session: its opaque `parley_st_…` token stored only as a SHA-256 hash. */
export interface StaffSessionsTable {
  id: string;
  staff_id: string;
  access_hash: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

/** A support staff member's request for access to one tenant, and its decision (compliance/support-access/). */
export interface SupportGrantsTable {
  id: string;
  tenant_id: string;
  staff_id: string;
  /** Field-cipher envelope (tenant data key). */
  reason: string;
  /** `metadata`, `user_admin` or `messages`: what the grant lets the staff member do (narrowed by the approver). */
  scope: string;
  /** JSON array of the dialog ids a `messages` grant reaches; null for the other scopes. */
  dialog_ids: string | null;
  duration_hours: number;
  status: 'pending' | 'approved' | 'refused' | 'revoked';
  requested_at: number;
  /** The tenant user who approved or refused. */
  decided_by: string | null;
  decided_at: number | null;
  /** Set on approval: the grant stops working at this moment by itself. */
  expires_at: number | null;
  revoked_by: string | null;
  revoked_at: number | null;
}

/** A tenant's choice about support access; no row: allowed. */
export interface SupportPoliciesTable {
  tenant_id: string;
  /** 0: operator staff may not even ask for access, and approved grants stop working. */
  allowed: number;
  /** `user:<id>` of who set it. */
  updated_by: string;
  updated_at: number;
}

/** A security incident (compliance/incidents/): platform table, no tenant. Times in ms. */
export interface IncidentsTable {
  id: string;
  title: string;
  description: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  status: 'investigating' | 'contained' | 'resolved' | 'closed';
  /** When the operator became aware: every clock starts here. */
  aware_at: number;
  /** JSON array of data categories. */
  data_categories: string;
  /** 1: published on the public feed (title and public summary only). */
  general: number;
  public_summary: string | null;
  controller_target_hours: number;
  /** The evidence window of the last scoping. */
  scope_from: number | null;
  scope_to: number | null;
  controllers_notified_at: number | null;
  controller_delay_reason: string | null;
  /** JSON of the Art. 33(3) texts sent to tenant owners. */
  tenant_notice: string | null;
  authority_notified_at: number | null;
  authority_reference: string | null;
  authority_delay_reason: string | null;
  users_notified_at: number | null;
  users_delay_reason: string | null;
  user_message: string | null;
  /** JSON array of reminders sent (`<clock>:<stage>`), so each goes out once. */
  reminders: string;
  rca_text: string | null;
  rca_attached_at: number | null;
  /** The staff id of the security officer who opened it. */
  opened_by: string;
  created_at: number;
  updated_at: number;
  closed_at: number | null;
}

export interface IncidentActionsTable {
  id: string;
  incident_id: string;
  description: string;
  due_at: number | null;
  done_at: number | null;
  /** The staff id who marked it done. */
  done_by: string | null;
  created_at: number;
}

/** One affected tenant of an incident, as scoped from the audit log. */
export interface IncidentTenantsTable {
  incident_id: string;
  tenant_id: string;
  /** JSON array of affected user ids. */
  user_ids: string;
  /** JSON array of kinds of record (audit target types). */
  record_kinds: string;
  /** Matching audit entries. */
  entries: number;
  notified_at: number | null;
  rca_requested_at: number | null;
}

/** One notice on one channel; the unique key (tenant, incident, user, channel) sends it once. */
export interface IncidentNoticesTable {
  id: string;
  tenant_id: string;
  incident_id: string;
  user_id: string;
  channel: 'owner_email' | 'user_email' | 'in_app';
  created_at: number;
  /** Set when the mail was handed over (or, in app, when written); null: to be sent. */
  sent_at: number | null;
}

/** Signed periodic reviews of support access (compliance/support-access/): platform table. */
export interface SupportReviewsTable {
  id: string;
  /** The window reviewed: from (inclusive) … to (exclusive), ms since the epoch. */
  window_from: number;
  window_to: number;
  /** hex SHA-256 of the canonical JSON of the report the officer read. */
  report_hash: string;
  grants: number;
  accesses: number;
  /** The security officer (staff id) who signed. */
  signed_by: string;
  signed_at: number;
}

/** The risk register (compliance/risk-register/): platform table. */
export interface RisksTable {
  id: string;
  asset: string;
  threat: string;
  /** 1 to 5. */
  likelihood: number;
  /** 1 to 5. */
  impact: number;
  controls: string;
  /** Who owns the risk (a role or name of the operator, not a tenant user). */
  owner: string;
  status: 'open' | 'mitigated' | 'accepted' | 'closed';
  next_review_at: number;
  last_reviewed_at: number | null;
  created_at: number;
  updated_at: number;
}

/** A change record; a major one is done only once it links a risk assessment. */
export interface ChangeRecordsTable {
  id: string;
  title: string;
  description: string;
  major: number;
  risk_id: string | null;
  assessment: string | null;
  status: 'planned' | 'done';
  created_at: number;
  done_at: number | null;
}

/** A law-enforcement request (compliance/legal-requests/): platform table; the tenant it is about by id. */
export interface LegalRequestsTable {
  id: string;
  authority: string;
  legal_basis: string;
  order_reference: string;
  /** What the order asks for, as written. */
  scope: string;
  /** The tenant whose data is asked for (not `tenant_id`: a platform row, not under row-level security). */
  target_tenant_id: string;
  received_at: number;
  deadline_at: number;
  status: 'received' | 'approved' | 'rejected' | 'disclosed';
  /** The review: 1/0, null until reviewed. */
  valid: number | null;
  binding: number | null;
  /** Field-cipher envelope (platform data key). */
  review_notes: string | null;
  /** What may be disclosed: the order's scope, or narrower. */
  approved_scope: string | null;
  /** 1 when the operator objected to the order (overbroad, invalid). */
  objected: number;
  /** 1 when the approved scope is narrower than the order's. */
  narrowed: number;
  /** A non-disclosure order: no tenant notice before this time. */
  nondisclosure_until: number | null;
  tenant_notified_at: number | null;
  disclosed_at: number | null;
  /** SHA-256 of the disclosed package. */
  package_sha256: string | null;
  created_by: string;
  created_at: number;
  updated_at: number;
  /** The order's scope as a `LegalScopeSpec` (JSON), null when only described in words (migration 0034). */
  scope_spec?: string | null;
  /** The approved scope as a `LegalScopeSpec` (JSON): the order's, or narrower. */
  approved_scope_spec?: string | null;
  /** Deadline reminders sent (JSON array of stages), each once. */
  reminders?: string;
}

/**
 * A disclosure package of a law-enforcement request (migration 0034), built by the export engine from the
 * approved scope: a tenant row (the data is the tenant's), sealed like an export archive.
 */
export interface LegalPackagesTable {
  id: string;
  tenant_id: string;
  request_id: string;
  status: 'building' | 'ready' | 'failed' | 'expired';
  /** The archive's own key, sealed with the tenant key; null once destroyed. */
  archive_key: string | null;
  /** Base64 of the stream-cipher header. */
  stream_header: string | null;
  chunk_count: number;
  /** Bytes of the .tar.gz. */
  plain_size: number;
  /** SHA-256 (hex) of the .tar.gz as downloaded. */
  sha256: string | null;
  records: number;
  created_by: string;
  created_at: number;
  completed_at: number | null;
  expires_at: number | null;
  download_count: number;
  updated_at: number;
}

export interface LegalPackageChunksTable {
  tenant_id: string;
  package_id: string;
  idx: number;
  data: Buffer;
}
