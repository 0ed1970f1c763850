import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';
import { applicationRole } from '../dialects/postgres.ts';

/**
 * Background work that outlives a process (docs/jobs.md):
 * - `job_leases`: one row per cluster-wide lease (a scheduled task's); `token` grows by one at every
 *   acquisition, never resets, so work can check it still holds the lease it started under.
 * - `scheduled_tasks`: when each periodic task is next due and how its last run went, shared by all nodes
 *   so an occurrence runs once cluster-wide.
 * - `jobs`: durable jobs (export, purge, backup, …) with state, a resumable checkpoint, attempts and the
 *   claim of the node running one. `tenant_id` is null for system jobs; tenant jobs are under row-level
 *   security like every tenant table. No foreign key to `tenants`: a tenant's erasure job must not vanish
 *   with the tenant row, and the record of what ran is kept.
 */
export const jobsMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('job_leases')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('holder', 'text', (c) => c.notNull())
      .addColumn('token', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('scheduled_tasks')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('cron', 'text', (c) => c.notNull())
      .addColumn('next_run_at', 'bigint', (c) => c.notNull())
      .addColumn('last_started_at', 'bigint')
      .addColumn('last_finished_at', 'bigint')
      .addColumn('last_outcome', 'text')
      .addColumn('last_error_code', 'text')
      .execute();

    await db.schema
      .createTable('jobs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text')
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('progress', 'text')
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('max_attempts', 'integer', (c) => c.notNull())
      .addColumn('run_after', 'bigint', (c) => c.notNull())
      .addColumn('locked_by', 'text')
      .addColumn('locked_until', 'bigint')
      .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('error_code', 'text')
      .addColumn('error_message', 'text')
      .addColumn('requested_by', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint')
      .execute();
    // The runner's two questions: which queued jobs are due, which claims have lapsed.
    await db.schema.createIndex('jobs_due').on('jobs').columns(['state', 'run_after']).execute();
    await db.schema.createIndex('jobs_lapsed').on('jobs').columns(['state', 'locked_until']).execute();
    // Listing a tenant's (or the system's) jobs, newest first.
    await db.schema.createIndex('jobs_tenant').on('jobs').columns(['tenant_id', 'id']).execute();
    await adapter.isolateTenantTable(db, 'jobs');
    if (adapter.name === 'postgres') {
      // The runner claims due jobs of every tenant in one statement, in a system transaction. Forced row-level
      // security binds the tables' owner too (only superusers pass it), so without this policy a deployment
      // connecting as the owner would see no job at all. Tenant transactions run as the application role,
      // to which this policy does not apply: for them `tenant_isolation` alone decides.
      const role = sql.lit(applicationRole);
      await sql`create policy system_maintenance on jobs
        using (current_user <> ${role}) with check (current_user <> ${role})`.execute(db);
    }
  },
});
