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
  users: UsersTable;
  user_keys: UserKeysTable;
  audit_log: AuditLogTable;
  audit_heads: AuditHeadsTable;
  audit_checkpoints: AuditCheckpointsTable;
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
  parley_meta: { key: string; value: string };
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
  status: 'active' | 'suspended';
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
  status: 'active' | 'deactivated' | 'erased';
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
  avatar_url?: string | null;
}

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

export type UserTokenPurpose = 'mfa' | 'password_reset' | 'email_verification' | 'invite';

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
  'audit_checkpoints',
  'audit_heads',
  'audit_log',
  'dialog_members',
  'dialogs',
  'mail_outbox',
  'messages',
  'oauth_clients',
  'roles',
  'sessions',
  'tenant_keys',
  'tenant_settings',
  'tenant_setup_tokens',
  'used_refresh_tokens',
  'user_keys',
  'user_roles',
  'user_tokens',
  'users',
] as const satisfies readonly (keyof Database)[];
