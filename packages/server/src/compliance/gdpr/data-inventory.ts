import type { DialectName } from '../../storage/dialects/dialect-adapter.ts';

/**
 * The record of processing's data map (GDPR Art. 30): every table of the schema and every column in it,
 * whether it holds personal data, of which category, how it is protected at rest and how long it is kept.
 * `docs/privacy.md` shows it (generated: `npm run docs`), and a test compares it with the migrated schema
 * on both dialects in both directions, so a column added without a line here fails the build.
 */

/** What a column says about a person. */
export type PersonalDataCategory =
  /** Ids that single a person out: a user id, a session id, a pseudonymous blind index. */
  | 'identifier'
  /** How to reach them: e-mail address, phone number. */
  | 'contact'
  /** How they present themselves: name, avatar, custom profile data. */
  | 'profile'
  /** What they wrote or shared: messages, file names and contents, free text. */
  | 'content'
  /** What proves it is them: password hashes, second-factor secrets, token hashes. */
  | 'credential'
  /** Where they connected from: IP addresses. */
  | 'network'
  /** What they connected with: user agents, device ids. */
  | 'device'
  /** What they did and when: reading, presence, reactions, calls, consent given. */
  | 'behavioural'
  /** Facts about their account and records: statuses, times, roles, settings. */
  | 'metadata';

/** How a column is protected at rest (docs/security.md, "Keys"). */
export type Protection =
  /** AES-256-GCM under the owning user's key: unreadable everywhere once the user is erased. */
  | 'user field key'
  /** AES-256-GCM under the tenant's data key. */
  | 'tenant field key'
  /** HMAC-SHA-256 under the tenant's index key: equality lookups only, not reversible. */
  | 'blind index key'
  /** A one-way hash (argon2id for passwords, SHA-256 or HMAC for tokens and codes). */
  | 'one-way hash'
  /** Sealed with a stream key of its own (a file's, an export archive's), itself sealed with the tenant field key. */
  | 'stream key'
  /** AES-256-GCM under the master key itself (an operator staff member's TOTP secret: no tenant holds it). */
  | 'master key'
  /** AES-256-GCM under the platform's data key (data of no tenant: operator staff, law-enforcement requests). */
  | 'platform field key'
  /** HMAC-SHA-256 under the platform's index key: equality lookups over data of no tenant, not reversible. */
  | 'platform index key'
  /** Stored as is. */
  | 'none';

/**
 * How long personal data is kept, as the code does it today. Issue 14 adds configurable retention rules;
 * until then "no purge yet" says so plainly.
 */
export const retentionRules = {
  account:
    'While the account exists. Erasure destroys the user key (every field sealed with it becomes unreadable, backups included) and clears the blind indexes; the row stays as a tombstone.',
  account_link:
    'As long as the record it belongs to; after erasure the id is a pseudonym with nothing behind it.',
  session: 'Until the session ends (revoked, expired or idle); the ended row is kept (no purge yet).',
  single_use: 'Until used or expired; the spent row is kept (no purge yet).',
  audit: 'For the life of the tenant: the hash chain proves nothing was removed (no retention period yet).',
  messaging:
    'Until its author deletes it (message deletion, dialog deletion, leaving) or is erased (by the tenant’s erasure policy: erased, or kept under the erased account); no retention period yet.',
  attachment: 'Until the uploader removes it or is erased; uploads never completed are swept after a day.',
  calls: 'Until the tenant’s call record rule (retention, default 365 days after the call ended).',
  mail: 'Until the tenant’s outbox rule (retention, default 30 days; the embedded outbox is for installations without SMTP).',
  requests:
    'Kept as evidence of how each request was answered; the subject’s note becomes unreadable when the subject is erased (no retention period yet).',
  consent: 'For the life of the tenant: proof of consent (Art. 7(1)) outlives the account.',
  jobs: 'No purge yet.',
  staff:
    'Operator staff, not tenant users: while the staff account exists; ended staff sessions are kept (no purge yet).',
  exports:
    'The archive until it expires (the tenant’s export retention) or is destroyed; the row recording who was exported, when and by whom stays.',
} as const;
export type RetentionRule = keyof typeof retentionRules;

export interface PersonalColumn {
  personal: true;
  /** One category, or several when the column holds several things (a device: user agent and IP). */
  category: PersonalDataCategory | readonly PersonalDataCategory[];
  protection: Protection;
  /** Overrides the table's rule. */
  retention?: RetentionRule;
  /** A column that exists on one dialect only. */
  dialect?: DialectName;
}

export interface PlainColumn {
  personal: false;
  dialect?: DialectName;
}

export type ColumnDeclaration = PersonalColumn | PlainColumn;

export interface TableDeclaration {
  /** What the table is for, in a sentence. */
  purpose: string;
  /** How long its personal columns are kept; absent for tables without personal data. */
  retention?: RetentionRule;
  /** A table that exists on one dialect only. */
  dialect?: DialectName;
  columns: Record<string, ColumnDeclaration>;
}

const plain: PlainColumn = { personal: false };
const pd = (
  category: PersonalColumn['category'],
  protection: Protection = 'none',
  retention?: RetentionRule,
): PersonalColumn => ({ personal: true, category, protection, ...(retention ? { retention } : {}) });
const only = <T extends ColumnDeclaration>(dialect: DialectName, column: T): T => ({ ...column, dialect });
/** Columns that hold nothing about a person, by name. */
const plainColumns = (...names: string[]) => Object.fromEntries(names.map((name) => [name, plain]));

/**
 * Every table of the schema, on either dialect. SQLite's own catalogue tables (`sqlite_*`, e.g. the
 * planner statistics migration 0013 writes) belong to the engine and are not listed.
 */
export const dataInventory: Record<string, TableDeclaration> = {
  tenants: {
    purpose: 'The organisations served; names are the organisation’s, not a person’s.',
    columns: plainColumns('id', 'name', 'status', 'created_at', 'key_rotation_pending'),
  },
  tenant_setup_tokens: {
    purpose: 'One-time tokens that claim a new tenant, before any user exists.',
    columns: plainColumns('id', 'tenant_id', 'token_hash', 'expires_at', 'used_at', 'created_at'),
  },
  tenant_settings: {
    purpose: 'Each tenant’s security and messaging settings.',
    columns: plainColumns(
      'tenant_id',
      'signup_mode',
      'password_policy',
      'access_token_ttl_seconds',
      'idle_timeout_seconds',
      'refresh_token_ttl_seconds',
      'updated_at',
      'max_group_members',
      'max_message_bytes',
      'max_attachment_bytes',
      'edit_window_seconds',
      'call_policy',
      'export_others_messages',
      'export_retention_days',
      'erasure_grace_days',
      'erasure_message_policy',
      'access_logging',
    ),
  },
  platform_keys: {
    purpose: 'The platform’s own data and index keys (for data of no tenant), wrapped by the master key.',
    columns: plainColumns('purpose', 'version', 'wrapped_key', 'master_version', 'created_at'),
  },
  tenant_keys: {
    purpose: 'Tenant data and index keys, wrapped by the master key.',
    columns: plainColumns(
      'tenant_id',
      'purpose',
      'version',
      'wrapped_key',
      'master_version',
      'created_at',
      'retired_at',
    ),
  },
  master_key_checks: {
    purpose: 'Proof values that tell whether the right master key was loaded.',
    columns: plainColumns('version', 'sealed_check', 'created_at'),
  },
  signing_keys: {
    purpose: 'The server’s audit checkpoint signing keys.',
    columns: plainColumns(
      'id',
      'public_key',
      'wrapped_private_key',
      'master_version',
      'created_at',
      'retired_at',
    ),
  },
  users: {
    purpose: 'Accounts: who a person is in the tenant and how they sign in.',
    retention: 'account',
    columns: {
      id: pd('identifier', 'none', 'account_link'),
      tenant_id: plain,
      status: pd('metadata'),
      display_name: pd('profile', 'user field key'),
      email: pd('contact', 'user field key'),
      email_index: pd('identifier', 'blind index key'),
      phone: pd('contact', 'user field key'),
      phone_index: pd('identifier', 'blind index key'),
      profile: pd('profile', 'user field key'),
      created_at: pd('metadata'),
      updated_at: pd('metadata'),
      password_hash: pd('credential', 'one-way hash'),
      password_changed_at: pd('metadata'),
      password_history: pd('credential', 'one-way hash'),
      must_change_password: pd('metadata'),
      failed_logins: pd('metadata'),
      locked_until: pd('metadata'),
      email_verified_at: pd('metadata'),
      totp_secret: pd('credential', 'user field key'),
      totp_pending_secret: pd('credential', 'user field key'),
      totp_last_step: pd('metadata'),
      totp_enabled_at: pd('metadata'),
      recovery_codes: pd('credential', 'one-way hash'),
      avatar_url: pd('profile', 'user field key'),
      presence_visibility: pd('metadata'),
      last_active_at: pd('behavioural'),
    },
  },
  user_keys: {
    purpose: 'Each user’s own data key, wrapped by the tenant key; destroying it is erasure.',
    retention: 'account_link',
    columns: {
      ...plainColumns('tenant_id', 'wrapped_key', 'data_key_version'),
      user_id: pd('identifier'),
      created_at: pd('metadata'),
      destroyed_at: pd('metadata'),
    },
  },
  user_roles: {
    purpose: 'The roles each user holds.',
    retention: 'account',
    columns: { tenant_id: plain, user_id: pd('identifier'), role: pd('metadata') },
  },
  roles: {
    purpose: 'Custom roles a tenant defined.',
    columns: plainColumns('tenant_id', 'name', 'permissions', 'created_at'),
  },
  sessions: {
    purpose: 'Signed-in devices (and API clients): token hashes, scopes, device, times.',
    retention: 'session',
    columns: {
      id: pd('identifier'),
      tenant_id: plain,
      user_id: pd('identifier'),
      client_id: plain,
      scopes: pd('metadata'),
      access_token_hash: pd('credential', 'one-way hash'),
      access_expires_at: pd('metadata'),
      refresh_token_hash: pd('credential', 'one-way hash'),
      refresh_expires_at: pd('metadata'),
      // The user agent and the IP address at sign-in, in one sealed JSON value.
      device: pd(['device', 'network'], 'tenant field key'),
      device_minimised_at: pd('metadata'),
      created_at: pd('behavioural'),
      last_used_at: pd('behavioural'),
      revoked_at: pd('metadata'),
      revoked_reason: pd('metadata'),
    },
  },
  used_refresh_tokens: {
    purpose: 'Refresh tokens already exchanged, to catch a stolen copy being replayed.',
    retention: 'session',
    columns: {
      token_hash: pd('credential', 'one-way hash'),
      tenant_id: plain,
      session_id: pd('identifier'),
      used_at: pd('behavioural'),
    },
  },
  user_tokens: {
    purpose:
      'Single-use tokens: MFA step, password reset, e-mail verification and change, invitations (payload: the invited or new address’s blind index, a new address sealed).',
    retention: 'single_use',
    columns: {
      token_hash: pd('credential', 'one-way hash'),
      tenant_id: plain,
      user_id: pd('identifier'),
      purpose: pd('metadata'),
      payload: pd('contact', 'user field key'),
      attempts: pd('metadata'),
      expires_at: pd('metadata'),
      used_at: pd('metadata'),
    },
  },
  oauth_clients: {
    purpose: 'The tenant’s own servers (client_credentials); names are the tenant’s.',
    columns: plainColumns('id', 'tenant_id', 'name', 'secret_hash', 'scopes', 'created_at', 'revoked_at'),
  },
  mail_outbox: {
    purpose: 'Mail kept for an administrator when no SMTP relay is configured.',
    retention: 'mail',
    columns: {
      id: plain,
      tenant_id: plain,
      recipient: pd('contact', 'tenant field key'),
      subject: pd('content', 'tenant field key'),
      body: pd('content', 'tenant field key'),
      kind: pd('metadata'),
      created_at: pd('metadata'),
      sent_at: pd('metadata'),
    },
  },
  audit_log: {
    purpose: 'The tamper-evident record of security and compliance events.',
    retention: 'audit',
    columns: {
      tenant_id: plain,
      seq: plain,
      id: plain,
      occurred_at: pd('behavioural'),
      actor_type: plain,
      actor_id: pd('identifier'),
      session_id: pd('identifier'),
      action: pd('behavioural'),
      target_type: plain,
      target_id: pd('identifier'),
      outcome: pd('behavioural'),
      ip: pd('network', 'tenant field key'),
      user_agent: pd('device', 'tenant field key'),
      request_id: plain,
      // Ids, counts and field names only: never values (enforced by review and the log-redaction tests).
      details: pd('metadata'),
      prev_hash: plain,
      hash: plain,
      // SHA-256 over the two ciphertexts above (nonce included): reveals nothing about them.
      pii_commitment: plain,
      pii_minimised_at: plain,
    },
  },
  access_log: {
    purpose:
      'Who read message content or files (HIPAA access logging): reader, session, dialog and sequence range or file, when; chained by audit entries.',
    retention: 'audit',
    columns: {
      ...plainColumns('tenant_id', 'id', 'batch_seq', 'kind', 'reader_type', 'grant_id'),
      reader_id: pd('identifier'),
      session_id: pd('identifier'),
      dialog_id: pd('identifier'),
      from_seq: pd('behavioural'),
      to_seq: pd('behavioural'),
      file_id: pd('identifier'),
      first_read_at: pd('behavioural'),
      last_read_at: pd('behavioural'),
    },
  },
  audit_prunes: {
    purpose: 'Signed "pruned up to" records: where audit retention removed the oldest entries of a chain.',
    columns: plainColumns(
      'tenant_id',
      'seq',
      'hash',
      'entries',
      'older_than',
      'pruned_at',
      'key_id',
      'signature',
    ),
  },
  audit_heads: {
    purpose: 'The newest entry of each audit chain.',
    columns: plainColumns('tenant_id', 'seq', 'hash'),
  },
  audit_checkpoints: {
    purpose: 'Signed checkpoints of the audit chains.',
    columns: plainColumns('tenant_id', 'seq', 'hash', 'signed_at', 'key_id', 'signature'),
  },
  dialogs: {
    purpose: 'Conversations: private, group, broadcast, public.',
    retention: 'messaging',
    columns: {
      id: plain,
      tenant_id: plain,
      type: plain,
      // The two user ids of a private dialog.
      pair_key: pd('identifier'),
      name: pd('content', 'tenant field key'),
      description: pd('content', 'tenant field key'),
      photo_url: pd('content', 'tenant field key'),
      custom_data: pd('content', 'tenant field key'),
      created_by: pd('identifier'),
      hide_history: plain,
      last_seq: plain,
      pruned_seq: plain,
      last_activity_at: pd('behavioural'),
      created_at: pd('metadata'),
      deleted_at: pd('metadata'),
    },
  },
  dialog_members: {
    purpose: 'Who is in which dialog, and how far each has read.',
    retention: 'messaging',
    columns: {
      tenant_id: plain,
      dialog_id: plain,
      user_id: pd('identifier'),
      role: pd('metadata'),
      joined_seq: pd('behavioural'),
      joined_at: pd('behavioural'),
      left_at: pd('behavioural'),
      read_seq: pd('behavioural'),
      delivered_seq: pd('behavioural'),
      cleared_seq: pd('behavioural'),
      muted: pd('metadata'),
      pinned: pd('metadata'),
    },
  },
  messages: {
    purpose: 'Messages.',
    retention: 'messaging',
    columns: {
      id: plain,
      tenant_id: plain,
      dialog_id: plain,
      seq: plain,
      sender_id: pd('identifier'),
      // The sending device's idempotency key.
      client_id: pd('device'),
      body: pd('content', 'tenant field key'),
      reply_to: plain,
      mentions: pd('identifier'),
      properties: pd('content', 'tenant field key'),
      created_at: pd('behavioural'),
      edited_at: pd('behavioural'),
      deleted_at: pd('behavioural'),
    },
  },
  dialog_events: {
    purpose: 'Sequenced changes to messages (edits, deletions, reactions).',
    retention: 'messaging',
    columns: {
      ...plainColumns('tenant_id', 'dialog_id', 'seq', 'kind', 'message_id'),
      actor_id: pd('identifier'),
      created_at: pd('behavioural'),
    },
  },
  message_reactions: {
    purpose: 'Reactions to messages.',
    retention: 'messaging',
    columns: {
      tenant_id: plain,
      message_id: plain,
      user_id: pd('identifier'),
      emoji: pd('behavioural'),
      created_at: pd('behavioural'),
    },
  },
  hidden_messages: {
    purpose: '“Delete for me” of single messages.',
    retention: 'messaging',
    columns: { tenant_id: plain, message_id: plain, user_id: pd('identifier') },
  },
  user_blocks: {
    purpose: 'Who blocked whom.',
    retention: 'account',
    columns: {
      tenant_id: plain,
      user_id: pd('identifier'),
      blocked_id: pd('identifier'),
      created_at: pd('behavioural'),
    },
  },
  message_search: {
    purpose:
      'The search index entry of each message: blind tokens only (SQLite keeps them in message_search_fts).',
    retention: 'messaging',
    columns: {
      message_id: plain,
      tenant_id: plain,
      doc_id: only('sqlite', plain),
      tokens: only('postgres', pd('content', 'blind index key')),
    },
  },
  message_search_terms: {
    purpose: 'Which messages hold each blind search token.',
    retention: 'messaging',
    dialect: 'postgres',
    columns: { tenant_id: plain, token: pd('content', 'blind index key'), message_id: plain },
  },
  message_search_fts: {
    purpose: 'The FTS5 index of blind search tokens.',
    retention: 'messaging',
    dialect: 'sqlite',
    columns: { tokens: pd('content', 'blind index key') },
  },
  message_search_fts_data: {
    purpose: 'FTS5 storage: index segments of blind tokens.',
    retention: 'messaging',
    dialect: 'sqlite',
    columns: { id: plain, block: pd('content', 'blind index key') },
  },
  message_search_fts_idx: {
    purpose: 'FTS5 storage: the segment directory, keyed by blind tokens.',
    retention: 'messaging',
    dialect: 'sqlite',
    columns: { segid: plain, term: pd('content', 'blind index key'), pgno: plain },
  },
  message_search_fts_docsize: {
    purpose: 'FTS5 storage: token counts per entry.',
    dialect: 'sqlite',
    columns: plainColumns('id', 'sz', 'origin'),
  },
  message_search_fts_config: {
    purpose: 'FTS5 storage: settings.',
    dialect: 'sqlite',
    columns: plainColumns('k', 'v'),
  },
  attachments: {
    purpose: 'Uploaded files: name, type, size, the sealed key of their content.',
    retention: 'attachment',
    columns: {
      id: plain,
      tenant_id: plain,
      uploader_id: pd('identifier'),
      status: pd('metadata'),
      name: pd('content', 'tenant field key'),
      declared_type: pd('metadata'),
      content_type: pd('metadata'),
      size: pd('metadata'),
      content_key: plain,
      stream_header: plain,
      chunk_count: plain,
      created_at: pd('behavioural'),
      completed_at: pd('behavioural'),
    },
  },
  attachment_chunks: {
    purpose: 'File contents, in sealed chunks.',
    retention: 'attachment',
    columns: { tenant_id: plain, attachment_id: plain, idx: plain, data: pd('content', 'stream key') },
  },
  attachment_shares: {
    purpose: 'Which message shares which file.',
    columns: plainColumns('tenant_id', 'attachment_id', 'message_id', 'dialog_id', 'position'),
  },
  calls: {
    purpose: 'Call records: who called, media, when it rang, was answered and ended (no signalling).',
    retention: 'calls',
    columns: {
      id: plain,
      tenant_id: plain,
      dialog_id: plain,
      caller_id: pd('identifier'),
      caller_device_id: pd('device'),
      media: pd('behavioural'),
      state: pd('behavioural'),
      outcome: pd('behavioural'),
      created_at: pd('behavioural'),
      answered_at: pd('behavioural'),
      ended_at: pd('behavioural'),
    },
  },
  call_participants: {
    purpose: 'Who took part in each call, from which device, when.',
    retention: 'calls',
    columns: {
      tenant_id: plain,
      call_id: plain,
      user_id: pd('identifier'),
      state: pd('behavioural'),
      device_id: pd('device'),
      joined_at: pd('behavioural'),
      left_at: pd('behavioural'),
    },
  },
  consent_purposes: {
    purpose: 'Every version of each processing purpose a tenant asks consent for.',
    columns: plainColumns(
      'tenant_id',
      'key',
      'version',
      'title',
      'text',
      'text_hash',
      'lawful_basis',
      'required',
      'active',
      'created_at',
      'updated_at',
      'superseded_at',
    ),
  },
  consent_ledger: {
    purpose: 'Every grant and withdrawal of consent, append-only.',
    retention: 'consent',
    columns: {
      ...plainColumns('id', 'tenant_id', 'purpose_key', 'version', 'text_hash'),
      user_id: pd('identifier'),
      action: pd('behavioural'),
      source: pd('behavioural'),
      at: pd('behavioural'),
    },
  },
  consent_states: {
    purpose: 'Each user’s current standing per purpose, derived from the ledger.',
    retention: 'consent',
    columns: {
      ...plainColumns('tenant_id', 'purpose_key', 'version'),
      user_id: pd('identifier'),
      granted: pd('behavioural'),
      changed_at: pd('behavioural'),
    },
  },
  data_subject_requests: {
    purpose: 'GDPR data subject requests with their deadlines, status and outcome.',
    retention: 'requests',
    columns: {
      id: plain,
      tenant_id: plain,
      subject_id: pd('identifier'),
      kind: pd('metadata'),
      source: pd('metadata'),
      requested_by: pd('identifier'),
      status: pd('metadata'),
      received_at: pd('metadata'),
      deadline_at: pd('metadata'),
      extended_until: pd('metadata'),
      extension_reason: pd('content', 'tenant field key'),
      note: pd('content', 'user field key'),
      outcome: pd('content', 'tenant field key'),
      handled_by: pd('identifier'),
      closed_at: pd('metadata'),
      created_at: pd('metadata'),
      updated_at: pd('metadata'),
    },
  },
  user_restrictions: {
    purpose: 'Periods of restricted processing of an account (GDPR Art. 18).',
    retention: 'requests',
    columns: {
      id: plain,
      tenant_id: plain,
      user_id: pd('identifier'),
      request_id: plain,
      prior_status: pd('metadata'),
      reason: pd('content', 'tenant field key'),
      restricted_by: pd('identifier'),
      restricted_at: pd('metadata'),
      lifted_at: pd('metadata'),
      lifted_by: pd('identifier'),
      lift_reason: pd('content', 'tenant field key'),
    },
  },
  data_exports: {
    purpose: 'GDPR exports (Art. 15, 20): for whom, by whom, state, size, expiry; the archive key sealed.',
    retention: 'exports',
    columns: {
      ...plainColumns(
        'id',
        'tenant_id',
        'request_id',
        'job_id',
        'retention_days',
        'archive_key',
        'part_count',
        'error_code',
      ),
      subject_id: pd('identifier'),
      requested_by: pd('identifier'),
      source: pd('metadata'),
      status: pd('metadata'),
      others_messages: pd('metadata'),
      archive_bytes: pd('metadata'),
      records: pd('metadata'),
      download_count: pd('behavioural'),
      created_at: pd('metadata'),
      started_at: pd('metadata'),
      completed_at: pd('metadata'),
      expires_at: pd('metadata'),
      destroyed_at: pd('metadata'),
      destroyed_reason: pd('metadata'),
      updated_at: pd('metadata'),
    },
  },
  data_export_parts: {
    purpose: 'The parts of an export archive: stream header, chunk count, size.',
    columns: plainColumns('tenant_id', 'export_id', 'part', 'stream_header', 'chunk_count', 'plain_size'),
  },
  data_export_chunks: {
    purpose: 'Export archives (a copy of a user’s data), in sealed chunks.',
    retention: 'exports',
    columns: {
      ...plainColumns('tenant_id', 'export_id', 'part', 'idx'),
      data: pd(['content', 'contact', 'profile', 'behavioural'], 'stream key'),
    },
  },
  erasures: {
    purpose:
      'GDPR erasures (Art. 17): whose, requested by whom, grace period, state, message policy, and the signed certificate (counts and times only).',
    retention: 'requests',
    columns: {
      ...plainColumns('id', 'tenant_id', 'request_id', 'job_id', 'signature', 'key_id'),
      user_id: pd('identifier'),
      requested_by: pd('identifier'),
      cancelled_by: pd('identifier'),
      source: pd('metadata'),
      status: pd('metadata'),
      message_policy: pd('metadata'),
      requested_at: pd('metadata'),
      erase_after: pd('metadata'),
      started_at: pd('metadata'),
      completed_at: pd('metadata'),
      cancelled_at: pd('metadata'),
      certificate: pd('metadata'),
      updated_at: pd('metadata'),
    },
  },
  tenant_closures: {
    purpose:
      'Tenant termination: each closure, its export window, the purge’s progress and the signed certificate of deletion (ids, times and counts only); kept after the purge as its proof.',
    retention: 'requests',
    columns: {
      ...plainColumns(
        'id',
        'tenant_id',
        'stage',
        'closed_at',
        'purge_after',
        'reopened_at',
        'purge_started_at',
        'purged_at',
        'progress',
        'certificate',
        'signature',
        'key_id',
        'updated_at',
      ),
      // `user:<id>` of the owner who closed or reopened it (or `operator`).
      closed_by: pd('identifier'),
      reopened_by: pd('identifier'),
    },
  },
  jobs: {
    purpose: 'Durable background jobs (exports, purges, backups); payloads hold ids only.',
    retention: 'jobs',
    columns: {
      ...plainColumns(
        'id',
        'tenant_id',
        'kind',
        'state',
        'progress',
        'attempts',
        'max_attempts',
        'run_after',
        'locked_by',
        'locked_until',
        'cancel_requested',
        'error_code',
        'error_message',
        'created_at',
        'updated_at',
        'finished_at',
      ),
      // The ids a job works on: the user an export or erasure is for.
      payload: pd('identifier'),
      requested_by: pd('identifier'),
    },
  },
  retention_rules: {
    purpose: 'Each tenant’s retention rules and its dialogs’ overrides of the message rule (durations only).',
    columns: plainColumns('tenant_id', 'dialog_id', 'rules', 'updated_at'),
  },
  legal_holds: {
    purpose:
      'Legal holds on a user, a dialog or the whole tenant: who placed and released them, when, until when, and why (sealed).',
    retention: 'requests',
    columns: {
      ...plainColumns('id', 'tenant_id', 'target_type'),
      // The held user's id (or a dialog's, or the tenant's).
      target_id: pd('identifier'),
      reason: pd('content', 'tenant field key'),
      placed_by: pd('identifier'),
      released_by: pd('identifier'),
      placed_at: pd('metadata'),
      ends_at: pd('metadata'),
      released_at: pd('metadata'),
    },
  },
  retention_sweeps: {
    purpose:
      'What each retention sweep deleted per rule (counts and id ranges): the source of its audit receipt.',
    columns: plainColumns('id', 'tenant_id', 'started_at', 'finished_at', 'counts'),
  },
  job_leases: {
    purpose: 'Cluster-wide leases of scheduled tasks.',
    columns: plainColumns('name', 'holder', 'token', 'expires_at'),
  },
  scheduled_tasks: {
    purpose: 'When each periodic task is next due and how its last run went.',
    columns: plainColumns(
      'name',
      'cron',
      'next_run_at',
      'last_started_at',
      'last_finished_at',
      'last_outcome',
      'last_error_code',
    ),
  },
  alert_states: {
    purpose:
      'Alerts the embedded alerting raised: condition, node, status and when notices went out (ids and times only, never personal data).',
    columns: plainColumns(
      'key',
      'condition',
      'node_id',
      'status',
      'severity',
      'summary',
      'started_at',
      'last_notified_at',
      'resolved_at',
      'updated_at',
    ),
  },
  staff_accounts: {
    purpose:
      'Operator staff (no tenant): e-mail, role, password hash, TOTP secret, the one-time enrolment token’s hash.',
    retention: 'staff',
    columns: {
      id: pd('identifier'),
      email: pd('contact', 'platform field key'),
      email_index: pd('identifier', 'platform index key'),
      role: pd('metadata'),
      password_hash: pd('credential', 'one-way hash'),
      totp_secret: pd('credential', 'master key'),
      totp_master_version: plain,
      totp_last_step: pd('behavioural'),
      enrolment_hash: pd('credential', 'one-way hash'),
      enrolment_expires_at: pd('metadata'),
      enrolled_at: pd('metadata'),
      created_at: pd('metadata'),
      disabled_at: pd('metadata'),
    },
  },
  staff_sessions: {
    purpose: 'Operator staff sessions: token hashes and times.',
    retention: 'staff',
    columns: {
      id: pd('identifier'),
      staff_id: pd('identifier'),
      access_hash: pd('credential', 'one-way hash'),
      created_at: pd('behavioural'),
      expires_at: pd('metadata'),
      revoked_at: pd('metadata'),
    },
  },
  support_grants: {
    purpose:
      'Operator staff requests for support access to the tenant and their decisions: scope, duration, who decided, expiry, revocation.',
    retention: 'audit',
    columns: {
      id: plain,
      tenant_id: plain,
      staff_id: pd('identifier'),
      // Written by operator staff to explain the request; they are told to leave personal data out.
      reason: pd('content', 'tenant field key'),
      scope: plain,
      dialog_ids: plain,
      duration_hours: plain,
      status: plain,
      requested_at: pd('metadata'),
      decided_by: pd('identifier'),
      decided_at: pd('metadata'),
      expires_at: plain,
      revoked_by: pd('identifier'),
      revoked_at: pd('metadata'),
    },
  },
  support_policies: {
    purpose: 'Whether the tenant allows operator support access at all.',
    columns: plainColumns('tenant_id', 'allowed', 'updated_by', 'updated_at'),
  },
  incidents: {
    purpose:
      'Security incidents (platform, no tenant): severity, status, awareness time, the clocks and their delay reasons, the texts sent, the RCA. Staff are told to keep personal data out of the texts.',
    retention: 'audit',
    columns: {
      ...plainColumns(
        'id',
        'title',
        'description',
        'severity',
        'status',
        'aware_at',
        'data_categories',
        'general',
        'public_summary',
        'controller_target_hours',
        'scope_from',
        'scope_to',
        'controllers_notified_at',
        'controller_delay_reason',
        'tenant_notice',
        'authority_notified_at',
        'authority_reference',
        'authority_delay_reason',
        'users_notified_at',
        'users_delay_reason',
        'user_message',
        'reminders',
        'rca_text',
        'rca_attached_at',
        'created_at',
        'updated_at',
        'closed_at',
      ),
      opened_by: pd('identifier'),
    },
  },
  incident_actions: {
    purpose: 'Corrective actions of an incident and who marked them done.',
    retention: 'audit',
    columns: {
      ...plainColumns('id', 'incident_id', 'description', 'due_at', 'done_at', 'created_at'),
      done_by: pd('identifier'),
    },
  },
  incident_tenants: {
    purpose:
      'The tenant’s share of an incident, scoped from the audit log: affected user ids, kinds of record.',
    retention: 'audit',
    columns: {
      ...plainColumns(
        'incident_id',
        'tenant_id',
        'record_kinds',
        'entries',
        'notified_at',
        'rca_requested_at',
      ),
      user_ids: pd('identifier'),
    },
  },
  incident_notices: {
    purpose: 'Which incident notices went to whom, on which channel (e-mail to owners and users, in app).',
    retention: 'audit',
    columns: {
      ...plainColumns('id', 'tenant_id', 'incident_id', 'channel', 'sent_at'),
      user_id: pd('identifier'),
      created_at: pd('metadata'),
    },
  },
  risks: {
    purpose: 'The operator’s risk register: asset, threat, likelihood, impact, controls, owner, reviews.',
    columns: plainColumns(
      'id',
      'asset',
      'threat',
      'likelihood',
      'impact',
      'controls',
      'owner',
      'status',
      'next_review_at',
      'last_reviewed_at',
      'created_at',
      'updated_at',
    ),
  },
  legal_requests: {
    purpose:
      'Law-enforcement requests about a tenant: authority, legal basis, order reference, scope, review, notice, disclosure hash.',
    retention: 'audit',
    columns: {
      ...plainColumns(
        'id',
        'authority',
        'legal_basis',
        'order_reference',
        'target_tenant_id',
        'received_at',
        'deadline_at',
        'status',
        'valid',
        'binding',
        'objected',
        'narrowed',
        'nondisclosure_until',
        'tenant_notified_at',
        'disclosed_at',
        'package_sha256',
        'created_at',
        'updated_at',
      ),
      // An order's scope names the people it is about.
      scope: pd('identifier'),
      approved_scope: pd('identifier'),
      scope_spec: pd('identifier'),
      approved_scope_spec: pd('identifier'),
      reminders: plain,
      review_notes: pd('content', 'platform field key'),
      created_by: pd('identifier'),
    },
  },
  legal_packages: {
    purpose:
      'Disclosure packages of law-enforcement requests: the sealed archive key, stream header, SHA-256, download window.',
    retention: 'exports',
    columns: {
      ...plainColumns(
        'id',
        'tenant_id',
        'request_id',
        'status',
        'stream_header',
        'chunk_count',
        'plain_size',
        'sha256',
        'records',
        'archive_key',
        'created_at',
        'completed_at',
        'expires_at',
        'download_count',
        'updated_at',
      ),
      created_by: pd('identifier'),
    },
  },
  legal_package_chunks: {
    purpose: 'Disclosure packages (the records an approved order covers), in sealed chunks.',
    retention: 'exports',
    columns: {
      ...plainColumns('tenant_id', 'package_id', 'idx'),
      data: pd(['content', 'contact', 'profile', 'behavioural'], 'stream key'),
    },
  },
  support_reviews: {
    purpose:
      'Signed periodic reviews of operator support access: the window, the report hash, who signed and when.',
    retention: 'audit',
    columns: {
      ...plainColumns('id', 'window_from', 'window_to', 'report_hash', 'grants', 'accesses', 'signed_at'),
      signed_by: pd('identifier'),
    },
  },
  change_records: {
    purpose: 'Major changes of the installation and the risk assessment each links.',
    columns: plainColumns(
      'id',
      'title',
      'description',
      'major',
      'risk_id',
      'assessment',
      'status',
      'created_at',
      'done_at',
    ),
  },
  parley_meta: {
    purpose: 'Installation facts (the stream epoch).',
    columns: plainColumns('key', 'value'),
  },
  kysely_migration: {
    purpose: 'Which migrations ran.',
    columns: plainColumns('name', 'timestamp'),
  },
  kysely_migration_lock: {
    purpose: 'The migration lock.',
    columns: plainColumns('id', 'is_locked'),
  },
};

/** The tables and columns declared for one dialect, by table. */
export function declaredSchema(dialect: DialectName): Map<string, string[]> {
  const schema = new Map<string, string[]>();
  for (const [table, declaration] of Object.entries(dataInventory)) {
    if (declaration.dialect !== undefined && declaration.dialect !== dialect) continue;
    const columns = Object.entries(declaration.columns)
      .filter(([, column]) => column.dialect === undefined || column.dialect === dialect)
      .map(([name]) => name);
    schema.set(table, columns.sort());
  }
  return schema;
}
