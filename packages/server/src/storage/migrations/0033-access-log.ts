import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Who read what (issue 17 point 6, docs/compliance.md "Access log"): `access_log` holds one row per read of
 * message content or a file — a history page, search results, an attachment download, realtime deliveries to
 * one session coalesced into a sequence range, an export download. Rows are written in batches; each batch
 * is bound into the tenant's audit chain by one `access_log.recorded` entry (its `seq` is `batch_seq` here)
 * whose details carry the count and SHA-256 of the batch's rows, so a removed, altered or added row breaks
 * the verification (compliance/access-log/access-log-verifier.ts). A tenant table under forced row-level
 * security. `tenant_settings.access_logging`: `on`, `off`, or null (on exactly when the audit preset is
 * `hipaa`).
 */
export const accessLogMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('access_log')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('batch_seq', 'bigint', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('reader_type', 'text', (c) => c.notNull())
      .addColumn('reader_id', 'text')
      .addColumn('grant_id', 'text')
      .addColumn('session_id', 'text')
      .addColumn('dialog_id', 'text')
      .addColumn('from_seq', 'bigint')
      .addColumn('to_seq', 'bigint')
      .addColumn('file_id', 'text')
      .addColumn('first_read_at', 'bigint', (c) => c.notNull())
      .addColumn('last_read_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('access_log_pk', ['tenant_id', 'id'])
      .execute();
    await db.schema
      .createIndex('access_log_dialog')
      .on('access_log')
      .columns(['tenant_id', 'dialog_id', 'first_read_at'])
      .execute();
    await db.schema
      .createIndex('access_log_reader')
      .on('access_log')
      .columns(['tenant_id', 'reader_id', 'first_read_at'])
      .execute();
    await db.schema
      .createIndex('access_log_batch')
      .on('access_log')
      .columns(['tenant_id', 'batch_seq'])
      .execute();
    await adapter.isolateTenantTable(db, 'access_log');
    await db.schema.alterTable('tenant_settings').addColumn('access_logging', 'text').execute();
  },
});
