import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Operator staff (issue 17, docs/security.md "Operator staff and support access"): the people who run the
 * installation, kept apart from every tenant. Platform tables without a `tenant_id` (staff belong to no
 * tenant), so no row-level security: only platform code, in system transactions, reads them.
 *
 * `staff_accounts` holds one row per staff member: the role, the argon2id password hash and the TOTP secret
 * (wrapped under the master key: no tenant key can hold it), the one-time enrolment token's hash until it is
 * used. `staff_sessions` holds staff sessions, their opaque tokens only as SHA-256 hashes like tenant tokens.
 *
 * Support access (compliance/support-access/): `support_grants` holds each request of a staff member for access
 * to one tenant and its decision; `support_policies` a tenant's choice to forbid support access altogether (no
 * row: allowed). Both carry a `tenant_id` and are under forced row-level security like every tenant table.
 */
export const platformStaffMigration = (adapter: DialectAdapter): Migration => ({
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
    await db.schema
      .createTable('support_grants')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('staff_id', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('dialog_ids', 'text')
      .addColumn('duration_hours', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('requested_at', 'bigint', (c) => c.notNull())
      .addColumn('decided_by', 'text')
      .addColumn('decided_at', 'bigint')
      .addColumn('expires_at', 'bigint')
      .addColumn('revoked_by', 'text')
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('support_grants_tenant')
      .on('support_grants')
      .columns(['tenant_id', 'requested_at'])
      .execute();
    await db.schema.createIndex('support_grants_staff').on('support_grants').columns(['staff_id']).execute();
    await adapter.isolateTenantTable(db, 'support_grants');
    await db.schema
      .createTable('support_policies')
      .addColumn('tenant_id', 'text', (c) => c.primaryKey())
      .addColumn('allowed', 'integer', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await adapter.isolateTenantTable(db, 'support_policies');
  },
});
