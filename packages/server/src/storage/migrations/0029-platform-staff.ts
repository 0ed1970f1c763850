import type { Kysely, Migration } from 'kysely';

/**
 * Operator staff (issue 17, docs/security.md "Operator staff and support access"): the people who run the
 * installation, kept apart from every tenant. Platform tables without a `tenant_id` (staff belong to no
 * tenant), so no row-level security: only platform code, in system transactions, reads them.
 *
 * `staff_accounts` holds one row per staff member: the role, the argon2id password hash and the TOTP secret
 * (wrapped under the master key: no tenant key can hold it), the one-time enrolment token's hash until it is
 * used. `staff_sessions` holds staff sessions, their opaque tokens only as SHA-256 hashes like tenant tokens.
 */
export const platformStaffMigration = (): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('staff_accounts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('email', 'text', (c) => c.notNull().unique())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text')
      .addColumn('totp_secret', 'text', (c) => c.notNull())
      .addColumn('totp_master_version', 'integer', (c) => c.notNull())
      .addColumn('totp_last_step', 'bigint')
      .addColumn('enrolment_hash', 'text', (c) => c.unique())
      .addColumn('enrolment_expires_at', 'bigint')
      .addColumn('enrolled_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('disabled_at', 'bigint')
      .execute();
    await db.schema
      .createTable('staff_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('staff_id', 'text', (c) => c.notNull().references('staff_accounts.id'))
      .addColumn('access_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema.createIndex('staff_sessions_staff').on('staff_sessions').columns(['staff_id']).execute();
  },
});
