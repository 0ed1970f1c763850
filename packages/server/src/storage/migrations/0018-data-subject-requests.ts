import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * GDPR data subject requests (issue 13): every request with its clock (received, statutory deadline,
 * extension), status and outcome; and the history of restricted processing (Art. 18). A restricted account
 * is `users.status = 'restricted'` (a text column: no DDL needed); the status it had before is kept here so
 * lifting the restriction gives it back.
 *
 * Neither table references `users`: a request must outlive its subject's account (proof that an erasure
 * was done), and the free-text columns are sealed with the tenant key for the same reason, except the
 * subject's own note, which is theirs and is shredded with them.
 */
export const dataSubjectRequestsMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('data_subject_requests')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('subject_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('requested_by', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('received_at', 'bigint', (c) => c.notNull())
      .addColumn('deadline_at', 'bigint', (c) => c.notNull())
      .addColumn('extended_until', 'bigint')
      .addColumn('extension_reason', 'text')
      .addColumn('note', 'text')
      .addColumn('outcome', 'text')
      .addColumn('handled_by', 'text')
      .addColumn('closed_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('data_subject_requests_status')
      .on('data_subject_requests')
      .columns(['tenant_id', 'status', 'deadline_at'])
      .execute();
    await db.schema
      .createIndex('data_subject_requests_subject')
      .on('data_subject_requests')
      .columns(['tenant_id', 'subject_id', 'received_at'])
      .execute();
    await adapter.isolateTenantTable(db, 'data_subject_requests');

    await db.schema
      .createTable('user_restrictions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text')
      .addColumn('prior_status', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('restricted_by', 'text', (c) => c.notNull())
      .addColumn('restricted_at', 'bigint', (c) => c.notNull())
      .addColumn('lifted_at', 'bigint')
      .addColumn('lifted_by', 'text')
      .addColumn('lift_reason', 'text')
      .execute();
    await db.schema
      .createIndex('user_restrictions_user')
      .on('user_restrictions')
      .columns(['tenant_id', 'user_id', 'restricted_at'])
      .execute();
    await adapter.isolateTenantTable(db, 'user_restrictions');
  },
});
