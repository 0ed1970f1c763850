import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Attachments live in the database, the one system of record (backups, several nodes and crypto-shredding
 * then cover them with nothing else to manage): `attachments` holds the metadata, the sealed name and the
 * sealed per-attachment content key; `attachment_chunks` the STREAM-encrypted content, one sealed 64 KiB chunk
 * per row; `attachment_shares` which message (and so which dialog) shared an attachment, which is what lets
 * the dialog's members download it.
 */
export const attachmentsMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('attachments')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('uploader_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('declared_type', 'text')
      .addColumn('content_type', 'text', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('content_key', 'text', (c) => c.notNull())
      .addColumn('stream_header', 'text', (c) => c.notNull())
      .addColumn('chunk_count', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('completed_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('attachments_uploader')
      .on('attachments')
      .columns(['tenant_id', 'uploader_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'attachments');

    await db.schema
      .createTable('attachment_chunks')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('attachment_id', 'text', (c) => c.notNull().references('attachments.id').onDelete('cascade'))
      .addColumn('idx', 'bigint', (c) => c.notNull())
      .addColumn('data', adapter.name === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
      .addPrimaryKeyConstraint('attachment_chunks_pk', ['attachment_id', 'idx'])
      .execute();
    await adapter.isolateTenantTable(db, 'attachment_chunks');

    await db.schema
      .createTable('attachment_shares')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('attachment_id', 'text', (c) => c.notNull().references('attachments.id').onDelete('cascade'))
      .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
      .addColumn('dialog_id', 'text', (c) => c.notNull())
      .addColumn('position', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('attachment_shares_pk', ['attachment_id', 'message_id'])
      .execute();
    await db.schema
      .createIndex('attachment_shares_message')
      .on('attachment_shares')
      .columns(['tenant_id', 'message_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'attachment_shares');
  },
});
