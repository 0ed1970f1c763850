import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Erasure (GDPR Art. 17, issue 13): each erasure with its grace period, state, the policy it applied to
 * the user's messages and, once done, its signed certificate; and the tenant's erasure settings (grace days,
 * message policy; null = the defaults). Like data subject requests, an erasure does not reference `users`:
 * it is the proof that the account was erased, and outlives what it erased. It holds ids, times and counts
 * only.
 *
 * On SQLite the FTS5 index of blind search tokens is switched to `secure-delete`: a removed entry's tokens
 * leave the index segments at once, instead of lingering there until a merge.
 */
export const erasureMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('erasures')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text')
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('requested_by', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('message_policy', 'text', (c) => c.notNull())
      .addColumn('job_id', 'text')
      .addColumn('requested_at', 'bigint', (c) => c.notNull())
      .addColumn('erase_after', 'bigint', (c) => c.notNull())
      .addColumn('started_at', 'bigint')
      .addColumn('completed_at', 'bigint')
      .addColumn('cancelled_at', 'bigint')
      .addColumn('cancelled_by', 'text')
      .addColumn('certificate', 'text')
      .addColumn('signature', 'text')
      .addColumn('key_id', 'text')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('erasures_user')
      .on('erasures')
      .columns(['tenant_id', 'user_id', 'requested_at'])
      .execute();
    await adapter.isolateTenantTable(db, 'erasures');
    await db.schema.alterTable('tenant_settings').addColumn('erasure_grace_days', 'integer').execute();
    await db.schema.alterTable('tenant_settings').addColumn('erasure_message_policy', 'text').execute();
    if (adapter.name === 'sqlite')
      await sql`insert into message_search_fts (message_search_fts, rank) values ('secure-delete', 1)`.execute(
        db,
      );
  },
});
