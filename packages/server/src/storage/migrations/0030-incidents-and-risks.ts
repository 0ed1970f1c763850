import type { Kysely, Migration } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * Incidents and the risk register (issue 18, docs/incident-response.md, docs/compliance.md "Registers").
 *
 * Platform tables without a `tenant_id`, read and written by security officers in system transactions:
 * `incidents` (one row per incident: severity, status, awareness time, the clocks' outcomes, the RCA),
 * `incident_actions` (corrective actions; an incident closes only when all are done), `risks` (the risk
 * register) and `change_records` (major changes, each linked to a risk assessment before it is done).
 *
 * Tenant tables, under forced row-level security like every tenant table: `incident_tenants` (the scope found
 * from evidence for one affected tenant, when it was told, whether it asked for the RCA) and
 * `incident_notices` (one row per notice and channel: the unique key makes each notice go out once).
 */
export const incidentsAndRisksMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('incidents')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('severity', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('aware_at', 'bigint', (c) => c.notNull())
      .addColumn('data_categories', 'text', (c) => c.notNull())
      .addColumn('general', 'integer', (c) => c.notNull())
      .addColumn('public_summary', 'text')
      .addColumn('controller_target_hours', 'integer', (c) => c.notNull())
      .addColumn('scope_from', 'bigint')
      .addColumn('scope_to', 'bigint')
      .addColumn('controllers_notified_at', 'bigint')
      .addColumn('controller_delay_reason', 'text')
      .addColumn('tenant_notice', 'text')
      .addColumn('authority_notified_at', 'bigint')
      .addColumn('authority_reference', 'text')
      .addColumn('authority_delay_reason', 'text')
      .addColumn('users_notified_at', 'bigint')
      .addColumn('users_delay_reason', 'text')
      .addColumn('user_message', 'text')
      .addColumn('reminders', 'text', (c) => c.notNull())
      .addColumn('rca_text', 'text')
      .addColumn('rca_attached_at', 'bigint')
      .addColumn('opened_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('closed_at', 'bigint')
      .execute();
    await db.schema.createIndex('incidents_status').on('incidents').columns(['status', 'aware_at']).execute();
    await db.schema
      .createTable('incident_actions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id'))
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('due_at', 'bigint')
      .addColumn('done_at', 'bigint')
      .addColumn('done_by', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('incident_actions_incident')
      .on('incident_actions')
      .columns(['incident_id'])
      .execute();
    await db.schema
      .createTable('incident_tenants')
      .addColumn('incident_id', 'text', (c) => c.notNull())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('user_ids', 'text', (c) => c.notNull())
      .addColumn('record_kinds', 'text', (c) => c.notNull())
      .addColumn('entries', 'integer', (c) => c.notNull())
      .addColumn('notified_at', 'bigint')
      .addColumn('rca_requested_at', 'bigint')
      .addPrimaryKeyConstraint('incident_tenants_pk', ['incident_id', 'tenant_id'])
      .execute();
    await db.schema
      .createIndex('incident_tenants_tenant')
      .on('incident_tenants')
      .columns(['tenant_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'incident_tenants');
    await db.schema
      .createTable('incident_notices')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('incident_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('sent_at', 'bigint')
      .addUniqueConstraint('incident_notices_once', ['tenant_id', 'incident_id', 'user_id', 'channel'])
      .execute();
    await db.schema
      .createIndex('incident_notices_user')
      .on('incident_notices')
      .columns(['tenant_id', 'user_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'incident_notices');
    await db.schema
      .createTable('risks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('asset', 'text', (c) => c.notNull())
      .addColumn('threat', 'text', (c) => c.notNull())
      .addColumn('likelihood', 'integer', (c) => c.notNull())
      .addColumn('impact', 'integer', (c) => c.notNull())
      .addColumn('controls', 'text', (c) => c.notNull())
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('next_review_at', 'bigint', (c) => c.notNull())
      .addColumn('last_reviewed_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('change_records')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('major', 'integer', (c) => c.notNull())
      .addColumn('risk_id', 'text', (c) => c.references('risks.id'))
      .addColumn('assessment', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('done_at', 'bigint')
      .execute();
    await db.schema
      .createTable('legal_requests')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('authority', 'text', (c) => c.notNull())
      .addColumn('legal_basis', 'text', (c) => c.notNull())
      .addColumn('order_reference', 'text', (c) => c.notNull())
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('target_tenant_id', 'text', (c) => c.notNull())
      .addColumn('received_at', 'bigint', (c) => c.notNull())
      .addColumn('deadline_at', 'bigint', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('valid', 'integer')
      .addColumn('binding', 'integer')
      .addColumn('review_notes', 'text')
      .addColumn('approved_scope', 'text')
      .addColumn('objected', 'integer', (c) => c.notNull())
      .addColumn('narrowed', 'integer', (c) => c.notNull())
      .addColumn('nondisclosure_until', 'bigint')
      .addColumn('tenant_notified_at', 'bigint')
      .addColumn('disclosed_at', 'bigint')
      .addColumn('package_sha256', 'text')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
  },
});
