import type { Kysely, Migration } from 'kysely';

/**
 * Periodic reviews of support access (issue 17, point 3; docs/security.md, "Periodic review"): one row per
 * review a security officer signed — the window it covers, the SHA-256 of the report they read, who signed
 * and when. A platform table without a `tenant_id`, read and written in system transactions.
 */
export const supportReviewsMigration = (): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('support_reviews')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('window_from', 'bigint', (c) => c.notNull())
      .addColumn('window_to', 'bigint', (c) => c.notNull())
      .addColumn('report_hash', 'text', (c) => c.notNull())
      .addColumn('grants', 'integer', (c) => c.notNull())
      .addColumn('accesses', 'integer', (c) => c.notNull())
      .addColumn('signed_by', 'text', (c) => c.notNull().references('staff_accounts.id'))
      .addColumn('signed_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('support_reviews_window_to')
      .on('support_reviews')
      .column('window_to')
      .execute();
  },
});
