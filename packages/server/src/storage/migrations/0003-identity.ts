import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/** Accounts, credentials, roles, sessions and OAuth clients. Secrets are stored only as hashes. */
export const identityMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('tenant_settings')
      .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id').onDelete('cascade'))
      .addColumn('signup_mode', 'text', (c) => c.notNull().defaultTo('admin_created'))
      .addColumn('password_policy', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('access_token_ttl_seconds', 'integer', (c) => c.notNull().defaultTo(3600))
      .addColumn('idle_timeout_seconds', 'integer', (c) => c.notNull().defaultTo(900))
      .addColumn('refresh_token_ttl_seconds', 'integer', (c) => c.notNull().defaultTo(2_592_000))
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await adapter.isolateTenantTable(db, 'tenant_settings');

    for (const [column, type] of [
      ['password_hash', 'text'],
      ['password_changed_at', 'bigint'],
      ['password_history', 'text'],
      ['must_change_password', 'integer'],
      ['failed_logins', 'integer'],
      ['locked_until', 'bigint'],
      ['email_verified_at', 'bigint'],
      ['totp_secret', 'text'],
      ['totp_pending_secret', 'text'],
      ['totp_last_step', 'bigint'],
      ['totp_enabled_at', 'bigint'],
      ['recovery_codes', 'text'],
      ['avatar_url', 'text'],
    ] as const) {
      await db.schema.alterTable('users').addColumn(column, type).execute();
    }

    await db.schema
      .createTable('roles')
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('permissions', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('roles_pk', ['tenant_id', 'name'])
      .execute();
    await adapter.isolateTenantTable(db, 'roles');

    await db.schema
      .createTable('user_roles')
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('role', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('user_roles_pk', ['tenant_id', 'user_id', 'role'])
      .execute();
    await adapter.isolateTenantTable(db, 'user_roles');

    // One row per signed-in device: the refresh-token family. Tokens are stored as SHA-256 hashes only.
    await db.schema
      .createTable('sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('user_id', 'text')
      .addColumn('client_id', 'text')
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('access_token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('access_expires_at', 'bigint', (c) => c.notNull())
      .addColumn('refresh_token_hash', 'text', (c) => c.unique())
      .addColumn('refresh_expires_at', 'bigint')
      .addColumn('device', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .addColumn('revoked_reason', 'text')
      .execute();
    await db.schema.createIndex('sessions_user').on('sessions').columns(['tenant_id', 'user_id']).execute();
    await adapter.isolateTenantTable(db, 'sessions');

    // Refresh tokens already exchanged: presenting one again means it was stolen, so the family dies.
    await db.schema
      .createTable('used_refresh_tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
      .addColumn('used_at', 'bigint', (c) => c.notNull())
      .execute();
    await adapter.isolateTenantTable(db, 'used_refresh_tokens');

    // Short-lived single-use tokens: MFA step, password reset, e-mail verification, owner setup.
    await db.schema
      .createTable('user_tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('payload', 'text')
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await adapter.isolateTenantTable(db, 'user_tokens');

    // Mail in the embedded default (no SMTP configured): kept for an admin to read. Recipient and body are
    // personal data, sealed with the tenant key.
    await db.schema
      .createTable('mail_outbox')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('recipient', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('sent_at', 'bigint')
      .execute();
    await adapter.isolateTenantTable(db, 'mail_outbox');

    await db.schema
      .createTable('oauth_clients')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute();
    await adapter.isolateTenantTable(db, 'oauth_clients');
  },
});
