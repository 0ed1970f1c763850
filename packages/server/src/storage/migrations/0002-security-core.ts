import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Key hierarchy, users (personal fields encrypted) and the tamper-evident audit log. Audit tables carry no
 * foreign key to tenants: the record must outlive what it records.
 */
export const securityCoreMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    // One row per master key version: a known value sealed under it, so a wrong key is caught at start-up.
    await db.schema
      .createTable('master_key_checks')
      .addColumn('version', 'integer', (c) => c.primaryKey())
      .addColumn('sealed_check', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('signing_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('wrapped_private_key', 'text', (c) => c.notNull())
      .addColumn('master_version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('retired_at', 'bigint')
      .execute();

    // Set by a data-key rotation until the re-encryption job has moved every user key over. On `tenants`
    // (readable by the maintenance role) so the job finds pending tenants without scanning each tenant.
    await db.schema
      .alterTable('tenants')
      .addColumn('key_rotation_pending', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();

    await db.schema
      .createTable('tenant_keys')
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('wrapped_key', 'text', (c) => c.notNull())
      .addColumn('master_version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('retired_at', 'bigint')
      .addPrimaryKeyConstraint('tenant_keys_pk', ['tenant_id', 'purpose', 'version'])
      .execute();
    await adapter.isolateTenantTable(db, 'tenant_keys');

    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
      .addColumn('display_name', 'text')
      .addColumn('email', 'text')
      .addColumn('email_index', 'text')
      .addColumn('phone', 'text')
      .addColumn('phone_index', 'text')
      .addColumn('profile', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('users_email_unique', ['tenant_id', 'email_index'])
      .execute();
    await adapter.isolateTenantTable(db, 'users');

    // Each user's personal fields are sealed under the user's own key; deleting it shreds them everywhere.
    await db.schema
      .createTable('user_keys')
      // No foreign key to users: the key is made first, to seal the fields of the row about to be inserted.
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('wrapped_key', 'text')
      .addColumn('data_key_version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('destroyed_at', 'bigint')
      .addPrimaryKeyConstraint('user_keys_pk', ['tenant_id', 'user_id'])
      .execute();
    await db.schema
      .createIndex('user_keys_data_key_version')
      .on('user_keys')
      .columns(['tenant_id', 'data_key_version'])
      .execute();
    await adapter.isolateTenantTable(db, 'user_keys');

    await db.schema
      .createTable('audit_log')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull().unique())
      .addColumn('occurred_at', 'bigint', (c) => c.notNull())
      .addColumn('actor_type', 'text', (c) => c.notNull())
      .addColumn('actor_id', 'text')
      .addColumn('session_id', 'text')
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target_type', 'text')
      .addColumn('target_id', 'text')
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('ip', 'text')
      .addColumn('user_agent', 'text')
      .addColumn('request_id', 'text')
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('audit_log_pk', ['tenant_id', 'seq'])
      .execute();
    for (const column of ['actor_id', 'action', 'target_id', 'occurred_at'] as const) {
      await db.schema
        .createIndex(`audit_log_${column}`)
        .on('audit_log')
        .columns(['tenant_id', column])
        .execute();
    }
    await adapter.isolateTenantTable(db, 'audit_log');

    // The chain head: appends lock this row, so entries of one tenant are numbered in commit order.
    await db.schema
      .createTable('audit_heads')
      .addColumn('tenant_id', 'text', (c) => c.primaryKey())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await adapter.isolateTenantTable(db, 'audit_heads');

    await db.schema
      .createTable('audit_checkpoints')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('signed_at', 'bigint', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('audit_checkpoints_pk', ['tenant_id', 'seq'])
      .execute();
    await adapter.isolateTenantTable(db, 'audit_checkpoints');
  },
});
