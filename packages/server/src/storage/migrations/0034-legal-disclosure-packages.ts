import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Law-enforcement disclosure packages (issue 18, point 2; docs/compliance.md, "Law-enforcement requests").
 *
 * `legal_requests` gains the scope as records the export engine selects by (`scope_spec`: accounts, dialogs,
 * time range, kinds, as JSON), the approved one (`approved_scope_spec`, within it) and the deadline reminders
 * already sent (`reminders`, so each goes out once).
 *
 * Tenant tables, under forced row-level security like every tenant table: `legal_packages` (one package
 * built by the export engine from the approved scope: its archive key sealed with the tenant key, stream
 * header, SHA-256, download window) and `legal_package_chunks` (the sealed archive, one 64 KiB chunk a row).
 */
export const legalDisclosurePackagesMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('legal_requests').addColumn('scope_spec', 'text').execute();
    await db.schema.alterTable('legal_requests').addColumn('approved_scope_spec', 'text').execute();
    await db.schema
      .alterTable('legal_requests')
      .addColumn('reminders', 'text', (c) => c.notNull().defaultTo('[]'))
      .execute();

    await db.schema
      .createTable('legal_packages')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('archive_key', 'text')
      .addColumn('stream_header', 'text')
      .addColumn('chunk_count', 'integer', (c) => c.notNull())
      .addColumn('plain_size', 'bigint', (c) => c.notNull())
      .addColumn('sha256', 'text')
      .addColumn('records', 'integer', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('completed_at', 'bigint')
      .addColumn('expires_at', 'bigint')
      .addColumn('download_count', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('legal_packages_request')
      .on('legal_packages')
      .columns(['request_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'legal_packages');

    await db.schema
      .createTable('legal_package_chunks')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('package_id', 'text', (c) => c.notNull().references('legal_packages.id'))
      .addColumn('idx', 'integer', (c) => c.notNull())
      .addColumn('data', adapter.name === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
      .addPrimaryKeyConstraint('legal_package_chunks_pk', ['package_id', 'idx'])
      .execute();
    await adapter.isolateTenantTable(db, 'legal_package_chunks');
  },
});
