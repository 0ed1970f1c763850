import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * The system context on every tenant table (PostgreSQL only; docs/deployment.md, "Tenant isolation").
 *
 * Tenant tables are under *forced* row-level security, which binds their owner as well, and production
 * connects as the owner without superuser rights. Only `jobs` had a policy for it (`system_maintenance`,
 * 0016), so every other cross-tenant statement of a system transaction — the export expiry sweep above all —
 * saw no row there, while the tests, connected as a superuser, passed. This adds the `system_context` policy
 * (every role except `parley_app`) to each forced table of the schema that lacks it; `isolateTenantTable` now
 * adds it with `tenant_isolation`, so tables of later migrations have it from the start. It replaces the
 * jobs-only policy, which said the same.
 */
export const systemContextMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    if (adapter.name !== 'postgres') return;
    await adapter.admitSystemContextEverywhere(db);
    await sql`drop policy if exists system_maintenance on ${sql.table('jobs')}`.execute(db);
  },
});
