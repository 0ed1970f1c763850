/**
 * What erasure (GDPR Art. 17) does to every personal column the data inventory lists (data-inventory.ts), in
 * one table: a test compares the two in both directions, so a personal column added to the schema fails the
 * build until it is given a treatment here, and checks the treatments on an erased account's rows.
 *
 * - `cleared`: the account's rows hold nothing there any more (null, empty, or zero).
 * - `deleted`: the account's rows are deleted (`moved`: they move to a random id, so none names the account).
 * - `shredded`: sealed under the account's key, which is destroyed; unreadable in every copy.
 * - a sentence: kept, and why (docs/privacy.md, "Erasure", "What remains").
 */
export type ErasureTreatment = 'cleared' | 'deleted' | 'moved' | 'shredded' | `kept: ${string}`;

export interface TableErasure {
  /** The column naming the account a row belongs to, when rows can be told apart by it. */
  owner?: string;
  columns: Record<string, ErasureTreatment>;
}

const PSEUDONYM = 'kept: the account id, a random identifier with nothing left behind it';
const RECORD = 'kept: a record of what happened (times, states), under the pseudonymous id';
const kept = (columns: readonly string[], why: ErasureTreatment): Record<string, ErasureTreatment> =>
  Object.fromEntries(columns.map((column) => [column, why]));

export const erasureCoverage: Record<string, TableErasure> = {
  // Operator staff are no tenant's users: erasing a tenant user never touches them (docs/security.md).
  staff_accounts: {
    columns: kept(
      [
        'id',
        'email',
        'email_index',
        'role',
        'password_hash',
        'totp_secret',
        'totp_last_step',
        'enrolment_hash',
        'enrolment_expires_at',
        'enrolled_at',
        'created_at',
        'disabled_at',
      ],
      'kept: an operator staff member, not a tenant user; a tenant user’s erasure has nothing here',
    ),
  },
  staff_sessions: {
    columns: kept(
      ['id', 'staff_id', 'access_hash', 'created_at', 'expires_at', 'revoked_at'],
      'kept: an operator staff member’s session, not a tenant user’s',
    ),
  },
  support_grants: {
    columns: {
      staff_id: 'kept: the operator staff member the grant was for',
      reason:
        'kept: written by operator staff about the request, not about a user; sealed under the tenant key',
      ...kept(['decided_by', 'revoked_by'], PSEUDONYM),
      ...kept(['requested_at', 'decided_at', 'revoked_at'], RECORD),
    },
  },
  // Incidents and law-enforcement requests are records the operator must keep (GDPR Art. 33(5), 34; the
  // transparency report): they name accounts by their pseudonymous ids only, and staff by staff id.
  incidents: { columns: { opened_by: 'kept: the operator staff member who opened the incident' } },
  incident_actions: { columns: { done_by: 'kept: the operator staff member who completed the action' } },
  incident_tenants: {
    columns: {
      user_ids:
        'kept: the pseudonymous ids of the affected accounts, evidence of the breach scope (Art. 33(5))',
    },
  },
  incident_notices: {
    columns: {
      user_id: 'kept: the account id, a random identifier; proof the person was notified (Art. 34)',
      created_at: RECORD,
    },
  },
  support_reviews: {
    columns: { signed_by: 'kept: the operator staff member who signed the review' },
  },
  legal_requests: {
    columns: {
      ...kept(
        ['scope', 'approved_scope', 'review_notes'],
        'kept: the register of a law-enforcement request, written by operator staff (what was asked and allowed)',
      ),
      created_by: 'kept: the operator staff member who registered the request',
      ...kept(
        ['scope_spec', 'approved_scope_spec'],
        'kept: the register of a law-enforcement request, written by operator staff (what was asked and allowed)',
      ),
    },
  },
  legal_packages: { columns: { created_by: 'kept: the operator staff member who built the package' } },
  legal_package_chunks: {
    columns: {
      data: 'kept: a disclosure package an order compels; destroyed when its download window (7 days) ends',
    },
  },
  tenant_closures: {
    columns: kept(
      ['closed_by', 'reopened_by'],
      'kept: `user:<id>` of the owner who closed or reopened the tenant, a pseudonymous id (the tenant purge removes everything else)',
    ),
  },
  legal_holds: {
    columns: {
      ...kept(
        ['target_id', 'placed_by', 'released_by'],
        'kept: a legal hold is evidence for a court; an erasure of a held user waits until the hold ends',
      ),
      reason: 'kept: sealed under the tenant key; it is about the case, kept with the hold',
      ...kept(['placed_at', 'ends_at', 'released_at'], RECORD),
    },
  },
  users: {
    owner: 'id',
    columns: {
      id: PSEUDONYM,
      status: 'kept: erased, the tombstone’s state',
      ...kept(['created_at', 'updated_at'], RECORD),
      display_name: 'cleared',
      email: 'cleared',
      email_index: 'cleared',
      phone: 'cleared',
      phone_index: 'cleared',
      profile: 'cleared',
      password_hash: 'cleared',
      password_changed_at: 'cleared',
      password_history: 'cleared',
      must_change_password: 'cleared',
      failed_logins: 'cleared',
      locked_until: 'cleared',
      email_verified_at: 'cleared',
      totp_secret: 'cleared',
      totp_pending_secret: 'cleared',
      totp_last_step: 'cleared',
      totp_enabled_at: 'cleared',
      recovery_codes: 'cleared',
      avatar_url: 'cleared',
      presence_visibility: 'kept: set to nobody',
      last_active_at: 'cleared',
    },
  },
  user_keys: {
    owner: 'user_id',
    columns: { user_id: PSEUDONYM, ...kept(['created_at', 'destroyed_at'], RECORD) },
  },
  user_roles: { owner: 'user_id', columns: { user_id: 'deleted', role: 'deleted' } },
  sessions: {
    owner: 'user_id',
    columns: {
      ...kept(['id', 'user_id'], PSEUDONYM),
      ...kept(['scopes', 'access_expires_at', 'refresh_expires_at', 'created_at', 'last_used_at'], RECORD),
      ...kept(['revoked_at', 'revoked_reason', 'device_minimised_at'], RECORD),
      ...kept(
        ['access_token_hash', 'refresh_token_hash'],
        'kept: hashes of tokens of ended sessions, which open nothing',
      ),
      device: 'cleared',
    },
  },
  used_refresh_tokens: {
    columns: { token_hash: 'deleted', session_id: 'deleted', used_at: 'deleted' },
  },
  user_tokens: {
    owner: 'user_id',
    columns: {
      token_hash: 'deleted',
      user_id: 'deleted',
      purpose: 'deleted',
      payload: 'deleted',
      attempts: 'deleted',
      expires_at: 'deleted',
      used_at: 'deleted',
    },
  },
  mail_outbox: {
    // Matched by the address's blind index: no column names the account.
    columns: kept(['recipient', 'subject', 'body', 'kind', 'created_at', 'sent_at'], 'deleted'),
  },
  audit_log: {
    columns: kept(
      [
        'occurred_at',
        'actor_id',
        'session_id',
        'action',
        'target_id',
        'outcome',
        'ip',
        'user_agent',
        'details',
      ],
      'kept: the tamper-evident audit chain; IP and user agent sealed under the tenant key, details never hold values',
    ),
  },
  // Who read what is evidence kept under the audit rules (HIPAA §164.312(b)); it names people by id only,
  // and a row changed by erasure would break the chain that proves the log complete.
  access_log: {
    columns: kept(
      [
        'reader_id',
        'session_id',
        'dialog_id',
        'from_seq',
        'to_seq',
        'file_id',
        'first_read_at',
        'last_read_at',
      ],
      'kept: the access log, chained like the audit log; ids and sequence numbers only, pseudonymous once the account is erased',
    ),
  },
  dialogs: {
    columns: {
      ...kept(['pair_key', 'created_by'], PSEUDONYM),
      ...kept(
        ['name', 'description', 'photo_url', 'custom_data'],
        'kept: the dialog’s, shared by its members',
      ),
      ...kept(['last_activity_at', 'created_at', 'deleted_at'], RECORD),
    },
  },
  dialog_members: {
    owner: 'user_id',
    columns: {
      user_id: PSEUDONYM,
      ...kept(
        ['role', 'joined_seq', 'joined_at', 'left_at', 'read_seq', 'delivered_seq', 'cleared_seq'],
        RECORD,
      ),
      muted: 'cleared',
      pinned: 'cleared',
    },
  },
  messages: {
    owner: 'sender_id',
    columns: {
      sender_id: PSEUDONYM,
      client_id: 'kept: the sending device’s idempotency key, needed for the tombstone’s uniqueness',
      // Under the `keep_as_deleted_user` policy the text is kept instead (docs/privacy.md, "Erasure").
      body: 'cleared',
      properties: 'cleared',
      mentions: 'kept: ids of the people mentioned',
      ...kept(['created_at', 'edited_at', 'deleted_at'], RECORD),
    },
  },
  dialog_events: { columns: { actor_id: PSEUDONYM, created_at: RECORD } },
  message_reactions: {
    owner: 'user_id',
    columns: { user_id: 'moved', emoji: 'moved', created_at: 'moved' },
  },
  hidden_messages: { owner: 'user_id', columns: { user_id: 'deleted' } },
  user_blocks: {
    owner: 'user_id',
    columns: { user_id: 'deleted', blocked_id: 'deleted', created_at: 'deleted' },
  },
  message_search: { columns: { tokens: 'deleted' } },
  message_search_terms: { columns: { token: 'deleted' } },
  message_search_fts: { columns: { tokens: 'deleted' } },
  message_search_fts_data: { columns: { block: 'deleted' } },
  message_search_fts_idx: { columns: { term: 'deleted' } },
  attachments: {
    owner: 'uploader_id',
    columns: {
      uploader_id: PSEUDONYM,
      status: 'kept: removed, the tombstone’s state',
      name: 'cleared',
      declared_type: 'cleared',
      content_type: 'cleared',
      size: 'cleared',
      ...kept(['created_at', 'completed_at'], RECORD),
    },
  },
  attachment_chunks: { columns: { data: 'deleted' } },
  calls: {
    owner: 'caller_id',
    columns: {
      caller_id: PSEUDONYM,
      caller_device_id: 'cleared',
      ...kept(['media', 'state', 'outcome', 'created_at', 'answered_at', 'ended_at'], RECORD),
    },
  },
  call_participants: {
    owner: 'user_id',
    columns: {
      user_id: PSEUDONYM,
      device_id: 'cleared',
      ...kept(['state', 'joined_at', 'left_at'], RECORD),
    },
  },
  consent_ledger: {
    columns: kept(
      ['user_id', 'action', 'source', 'at'],
      'kept: proof of consent (Art. 7(1), Art. 17(3)(e)), under the pseudonymous id',
    ),
  },
  consent_states: {
    owner: 'user_id',
    columns: { user_id: 'deleted', granted: 'deleted', changed_at: 'deleted' },
  },
  data_subject_requests: {
    columns: {
      ...kept(['subject_id', 'requested_by', 'handled_by'], PSEUDONYM),
      ...kept(
        ['kind', 'source', 'status', 'received_at', 'deadline_at', 'extended_until', 'closed_at'],
        RECORD,
      ),
      ...kept(['created_at', 'updated_at'], RECORD),
      ...kept(
        ['extension_reason', 'outcome'],
        'kept: the organisation’s answer, evidence the request was answered',
      ),
      note: 'shredded',
    },
  },
  user_restrictions: {
    columns: {
      ...kept(['user_id', 'restricted_by', 'lifted_by'], PSEUDONYM),
      ...kept(['prior_status', 'restricted_at', 'lifted_at'], RECORD),
      ...kept(['reason', 'lift_reason'], 'kept: the administrators’ reasons, evidence of lawful processing'),
    },
  },
  data_exports: {
    columns: {
      ...kept(['subject_id', 'requested_by'], PSEUDONYM),
      ...kept(
        [
          'source',
          'status',
          'others_messages',
          'archive_bytes',
          'records',
          'download_count',
          'created_at',
          'started_at',
          'completed_at',
          'expires_at',
          'destroyed_at',
          'destroyed_reason',
          'updated_at',
        ],
        RECORD,
      ),
    },
  },
  data_export_chunks: { columns: { data: 'deleted' } },
  erasures: {
    columns: {
      ...kept(['user_id', 'requested_by', 'cancelled_by'], PSEUDONYM),
      ...kept(
        ['source', 'status', 'message_policy', 'requested_at', 'erase_after', 'started_at', 'completed_at'],
        RECORD,
      ),
      ...kept(['cancelled_at', 'certificate', 'updated_at'], RECORD),
    },
  },
  jobs: { columns: kept(['payload', 'requested_by'], PSEUDONYM) },
};
