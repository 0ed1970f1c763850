import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Tenant termination (issue 14, docs/privacy.md "Tenant termination"): one row per closure of a tenant, with
 * its stage (closed → purging → purged, or reopened), the end of its export window, the purge's progress (rows
 * deleted per table, keys destroyed) and, once purged, the signed certificate of deletion. It does not
 * reference `tenants`, because it is the proof of a deletion and must outlive every row of the tenant it
 * describes (the purge keeps it). Under forced row-level security like every table with a `tenant_id`: system
 * transactions (the purge, the operator's commands) see every closure, a tenant's own transaction only its
 * own. It holds ids, times and counts only, no personal data.
 */
export const tenantClosureMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('tenant_closures')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('stage', 'text', (c) => c.notNull())
      .addColumn('closed_at', 'bigint', (c) => c.notNull())
      .addColumn('closed_by', 'text', (c) => c.notNull())
      .addColumn('purge_after', 'bigint', (c) => c.notNull())
      .addColumn('reopened_at', 'bigint')
      .addColumn('reopened_by', 'text')
      .addColumn('purge_started_at', 'bigint')
      .addColumn('purged_at', 'bigint')
      .addColumn('progress', 'text', (c) => c.notNull())
      .addColumn('certificate', 'text')
      .addColumn('signature', 'text')
      .addColumn('key_id', 'text')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('tenant_closures_tenant')
      .on('tenant_closures')
      .columns(['tenant_id', 'closed_at'])
      .execute();
    await db.schema.createIndex('tenant_closures_stage').on('tenant_closures').columns(['stage']).execute();
    await adapter.isolateTenantTable(db, 'tenant_closures');
  },
});
