import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Retention and legal hold (issue 14, compliance/retention/).
 *
 * - `retention_rules`: a tenant's rules (`dialog_id` '') and its per-dialog overrides, as JSON of durations;
 *   null columns are not used (a missing row means the defaults).
 * - `legal_holds`: holds on a user, a dialog or the whole tenant, with the reason sealed under the tenant key,
 *   an optional end, and who placed and released them. A hold row is never deleted: it is the record.
 * - `retention_sweeps`: one row per tenant and sweep, with the counts and id ranges the committed batches
 *   deleted, updated in each batch's transaction; the audit receipt is written from it when the tenant's
 *   sweep ends, so a sweep interrupted between batches resumes and still leaves one complete receipt.
 * - `messages_live_age`: the live (not yet deleted) messages of a tenant by age, so a sweep finds the expired
 *   ones without walking the tombstones of earlier sweeps.
 */
export const retentionMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('retention_rules')
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('dialog_id', 'text', (c) => c.notNull())
      .addColumn('rules', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('retention_rules_pk', ['tenant_id', 'dialog_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'retention_rules');

    await db.schema
      .createTable('legal_holds')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('target_type', 'text', (c) => c.notNull())
      .addColumn('target_id', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('placed_by', 'text', (c) => c.notNull())
      .addColumn('placed_at', 'bigint', (c) => c.notNull())
      .addColumn('ends_at', 'bigint')
      .addColumn('released_at', 'bigint')
      .addColumn('released_by', 'text')
      .execute();
    await db.schema
      .createIndex('legal_holds_target')
      .on('legal_holds')
      .columns(['tenant_id', 'target_type', 'target_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'legal_holds');

    await db.schema
      .createTable('retention_sweeps')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint')
      .addColumn('counts', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('retention_sweeps_tenant')
      .on('retention_sweeps')
      .columns(['tenant_id', 'started_at'])
      .execute();
    await adapter.isolateTenantTable(db, 'retention_sweeps');

    await db.schema
      .createIndex('messages_live_age')
      .on('messages')
      .columns(['tenant_id', 'created_at'])
      .where(sql.ref('deleted_at'), 'is', null)
      .execute();
  },
});
