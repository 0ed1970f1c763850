import type { Kysely, Migration } from 'kysely';

/**
 * Embedded alerting (docs/monitoring.md, "Alerts without Prometheus"): one row per alert the server has
 * raised, so a restart neither sends a firing alert's notice again nor forgets to send its resolved notice.
 * `key` names the alert (`<condition>` or `<condition>:<subject>`, e.g. `dsr_deadline:<request id>`;
 * per-node conditions carry `@<node>`). A system table: it holds condition names, ids and times only, never
 * personal data (a data subject request's alert names the request id, not the person).
 */
export const alertsMigration = (): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('alert_states')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('condition', 'text', (c) => c.notNull())
      .addColumn('node_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('severity', 'text', (c) => c.notNull())
      .addColumn('summary', 'text', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('last_notified_at', 'bigint')
      .addColumn('resolved_at', 'bigint')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('alert_states_status').on('alert_states').columns(['status']).execute();
  },
});
