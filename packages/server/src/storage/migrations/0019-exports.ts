import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * GDPR data exports (issue 13, Art. 15 and 20): `data_exports` records each export, its state and the
 * archive's key (a random key of its own, sealed with the tenant key); the archive itself is a sequence of
 * parts, each a self-contained STREAM-encrypted gzip member of tar entries (`data_export_parts`: its stream
 * header, chunk count and size), stored one sealed 64 KiB chunk per row (`data_export_chunks`) like
 * attachments: in the database, so every node can serve it and a part commits with the job checkpoint that
 * records it. Destroying an archive deletes its parts, chunks and key; the `data_exports` row stays as the
 * record of what was exported, when, and for whom.
 *
 * The tenant settings gain the export policy: what an export holds of other people's messages, and how many
 * days a ready archive is kept (null: the defaults).
 */
export const exportsMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('data_exports')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('subject_id', 'text', (c) => c.notNull())
      .addColumn('requested_by', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text')
      .addColumn('job_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('others_messages', 'text', (c) => c.notNull())
      .addColumn('retention_days', 'integer', (c) => c.notNull())
      .addColumn('archive_key', 'text')
      .addColumn('part_count', 'integer', (c) => c.notNull())
      .addColumn('archive_bytes', 'bigint', (c) => c.notNull())
      .addColumn('records', 'bigint', (c) => c.notNull())
      .addColumn('error_code', 'text')
      .addColumn('download_count', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('started_at', 'bigint')
      .addColumn('completed_at', 'bigint')
      .addColumn('expires_at', 'bigint')
      .addColumn('destroyed_at', 'bigint')
      .addColumn('destroyed_reason', 'text')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    // A subject's exports, newest first (listing, the one-running rule).
    await db.schema
      .createIndex('data_exports_subject')
      .on('data_exports')
      .columns(['tenant_id', 'subject_id', 'created_at'])
      .execute();
    // The expiry sweep: ready archives by expiry, across tenants.
    await db.schema
      .createIndex('data_exports_expiry')
      .on('data_exports')
      .columns(['status', 'expires_at'])
      .execute();
    await adapter.isolateTenantTable(db, 'data_exports');

    await db.schema
      .createTable('data_export_parts')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('export_id', 'text', (c) => c.notNull().references('data_exports.id'))
      .addColumn('part', 'integer', (c) => c.notNull())
      .addColumn('stream_header', 'text', (c) => c.notNull())
      .addColumn('chunk_count', 'integer', (c) => c.notNull())
      .addColumn('plain_size', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('data_export_parts_pk', ['export_id', 'part'])
      .execute();
    await adapter.isolateTenantTable(db, 'data_export_parts');

    await db.schema
      .createTable('data_export_chunks')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('export_id', 'text', (c) => c.notNull().references('data_exports.id'))
      .addColumn('part', 'integer', (c) => c.notNull())
      .addColumn('idx', 'integer', (c) => c.notNull())
      .addColumn('data', adapter.name === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
      .addPrimaryKeyConstraint('data_export_chunks_pk', ['export_id', 'part', 'idx'])
      .execute();
    await adapter.isolateTenantTable(db, 'data_export_chunks');

    await db.schema.alterTable('tenant_settings').addColumn('export_others_messages', 'text').execute();
    await db.schema.alterTable('tenant_settings').addColumn('export_retention_days', 'integer').execute();
  },
});
