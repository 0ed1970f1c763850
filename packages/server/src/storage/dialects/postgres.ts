import { type Kysely, sql, type Transaction } from 'kysely';
import pg from 'pg';
import { DatabaseUnavailableError } from '../database-unavailable.ts';
import type { DialectAdapter } from './dialect-adapter.ts';
import { withDeferredBegin } from './postgres-deferred-begin.ts';
import { SchemaBoundPostgresDialect } from './schema-introspector.ts';

/** The role every tenant transaction runs as; it does not own the tables, so row-level security binds it. */
export const applicationRole = 'parley_app';

const INT8_OID = 20;
/** A canonical UUID: hex digits and dashes only, so it is safe inside a SQL string literal. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface PostgresOptions {
  url: string;
  schema: string;
  poolSize: number;
  /** How long `connect` waits for a free connection (or for the database to answer) before it gives up. */
  acquireTimeoutMs: number;
  onPoolError: (error: Error) => void;
}

export function createPostgresAdapter(options: PostgresOptions): DialectAdapter & { pool: pg.Pool } {
  const { schema } = options;
  // Times are BIGINT milliseconds; they fit a JS number exactly. Set per pool, not on pg's global parsers.
  const types = new pg.TypeOverrides();
  types.setTypeParser(INT8_OID, Number);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    // A database that stopped answering (a network partition) fails new connections after this long instead
    // of holding callers (and /readyz) for ever; once it answers again, new connections simply succeed. The
    // same wait bounds a caller queued behind a pool whose connections are all busy (an overload).
    connectionTimeoutMillis: options.acquireTimeoutMs,
    options: `-c search_path=${schema}`,
    types,
  });
  pool.on('error', options.onPoolError);
  // A connection that dies while checked out (a transaction between statements, e.g. a background job's)
  // emits 'error' on its client, which the pool does not listen to then: without this, an uncaught exception.
  // The statement in flight still fails and the pool drops the client.
  pool.on('connect', (client) => client.on('error', options.onPoolError));
  return {
    name: 'postgres',
    schema,
    // Half the pool, at most 4: the other half stays for reads (history, delivery, sign-in).
    writeConcurrency: Math.max(1, Math.min(4, Math.floor(options.poolSize / 2))),
    pool,
    dialect: new SchemaBoundPostgresDialect(
      { pool: withDeferredBegin(unavailableWhenNoConnection(pool)) },
      schema,
    ),
    async enterTenant(tx: Transaction<unknown>, tenantId: string) {
      // One round trip: both settings are transaction-local, so they vanish at commit or rollback. An id of
      // ours (a UUID, checked) is written into the text so the statement has no parameters and `begin` rides
      // with it (postgres-deferred-begin.ts); anything else goes as a parameter.
      if (UUID.test(tenantId)) {
        await sql
          .raw(
            `select set_config('app.tenant_id', '${tenantId}', true), set_config('role', '${applicationRole}', true)`,
          )
          .execute(tx);
        return;
      }
      await sql`select set_config('app.tenant_id', ${tenantId}, true), set_config('role', ${applicationRole}, true)`.execute(
        tx,
      );
    },
    async prepareSchema(db: Kysely<unknown>) {
      // Look first: CREATE SCHEMA IF NOT EXISTS demands CREATE on the database even when the schema exists.
      const { rows } = await sql`select 1 from pg_namespace where nspname = ${schema}`.execute(db);
      if (rows.length === 0) await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
    },
    async finishMigrations(migrated: Kysely<unknown>) {
      // Nodes started together all get here at once (the migration lock is released by now), and PostgreSQL
      // refuses a GRANT on an object another transaction is granting on ("tuple concurrently updated"): that
      // node would exit at start. One node at a time, per schema, under a transaction-scoped advisory lock.
      await migrated.transaction().execute(async (db) => {
        await sql`select pg_advisory_xact_lock(hashtext(${`parley.finish-migrations.${schema}`}))`.execute(
          db,
        );
        await finishMigrationsLocked(db, schema);
      });
    },
    async isolateTenantTable(db: Kysely<unknown>, table: string) {
      const t = sql.table(table);
      await sql`alter table ${t} enable row level security`.execute(db);
      await sql`alter table ${t} force row level security`.execute(db);
      await sql`create policy tenant_isolation on ${t}
        using (tenant_id = current_setting('app.tenant_id', true))
        with check (tenant_id = current_setting('app.tenant_id', true))`.execute(db);
      await admitSystemContext(db, table);
    },
    async admitSystemContextEverywhere(db: Kysely<unknown>) {
      // Every table under forced row-level security in this schema that lacks the policy: the tenant tables.
      const { rows } = await sql<{ table: string }>`select c.relname as table
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = ${schema} and c.relkind = 'r' and c.relforcerowsecurity
          and not exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polname = 'system_context')
        order by c.relname`.execute(db);
      for (const { table } of rows) await admitSystemContext(db, table);
    },
    async isolateTenantsTable(db: Kysely<unknown>) {
      await sql`alter table tenants enable row level security`.execute(db);
      await sql`create policy tenant_isolation on tenants
        using (id = current_setting('app.tenant_id', true))`.execute(db);
    },
  };
}

/**
 * The system context on a tenant table: every role except `parley_app` passes (`system_context`, beside
 * `tenant_isolation`; permissive policies are OR-ed). Forced row-level security binds the tables' owner too,
 * and production connects as that owner without superuser rights (docs/deployment.md): without this policy
 * every `withSystem` statement on a tenant table (the job runner's claim, the export expiry sweep, …) sees no
 * row and may insert none. It grants the owner nothing it does not hold already (an owner may switch row-level
 * security off on its own tables); what it must not open is the tenant transaction, and that runs as
 * `parley_app` (`enterTenant`), to which this policy does not apply: there `tenant_isolation` alone decides.
 */
async function admitSystemContext(db: Kysely<unknown>, table: string): Promise<void> {
  const role = sql.lit(applicationRole);
  await sql`create policy system_context on ${sql.table(table)}
    using (current_user <> ${role}) with check (current_user <> ${role})`.execute(db);
}

/**
 * Creates the NOLOGIN role once per cluster (tolerating a concurrent creator) and makes sure we can assume
 * it. A role a DBA created in advance is used as it is, so the connecting user needs no CREATEROLE then.
 */
async function ensureApplicationRole(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql`select 1 from pg_roles where rolname = ${applicationRole}`.execute(db);
  if (rows.length === 0) {
    await sql
      .raw(
        `do $$ begin
           create role ${applicationRole} nologin;
         exception when duplicate_object or unique_violation then null;
         end $$`,
      )
      .execute(db);
  }
  if (!(await canAssumeApplicationRole(db))) {
    await sql`grant ${sql.id(applicationRole)} to current_user`.execute(db);
  }
}

/** Tries the switch itself: membership rules differ between PostgreSQL versions (16 added the SET option). */
async function canAssumeApplicationRole(db: Kysely<unknown>): Promise<boolean> {
  if (db.isTransaction) {
    // Inside a transaction: try under a savepoint, and roll back to it (which also undoes the switch).
    await sql`savepoint parley_role_probe`.execute(db);
    try {
      await sql`select set_config('role', ${applicationRole}, true)`.execute(db);
      return true;
    } catch {
      return false;
    } finally {
      await sql`rollback to savepoint parley_role_probe`.execute(db);
    }
  }
  try {
    await db.transaction().execute(async (tx) => {
      await sql`select set_config('role', ${applicationRole}, true)`.execute(tx);
    });
    return true;
  } catch {
    return false;
  }
}

/** The grants and revokes after the migrations (see `finishMigrations`), in its transaction, under its lock. */
async function finishMigrationsLocked(db: Transaction<unknown>, schema: string): Promise<void> {
  await ensureApplicationRole(db);
  const s = sql.id(schema);
  await sql`grant usage on schema ${s} to ${sql.id(applicationRole)}`.execute(db);
  await sql`grant select, insert, update, delete on all tables in schema ${s} to ${sql.id(applicationRole)}`.execute(
    db,
  );
  await sql`grant usage, select on all sequences in schema ${s} to ${sql.id(applicationRole)}`.execute(db);
  await sql`revoke all on ${sql.table('kysely_migration')}, ${sql.table('kysely_migration_lock')} from ${sql.id(applicationRole)}`.execute(
    db,
  );
  // The audit trail is append-only for the application: an injected query cannot rewrite history.
  // Retention (pruning, `audit_prunes`) and minimisation run as the owner (audit-prune-store.ts); so does
  // the access log's retention (compliance/access-log/), whose records are append-only too.
  await sql`revoke update, delete on ${sql.table('audit_log')}, ${sql.table('audit_checkpoints')}, ${sql.table('audit_prunes')}, ${sql.table('access_log')} from ${sql.id(applicationRole)}`.execute(
    db,
  );
}

/**
 * `pool.connect` failing (no free connection in time, or the database not answering) becomes a
 * `DatabaseUnavailableError`, which clients are answered as "retry shortly" (503), not as a server fault.
 */
function unavailableWhenNoConnection(pool: pg.Pool): Pick<pg.Pool, 'connect' | 'end'> {
  return {
    connect: async () => {
      try {
        return await pool.connect();
      } catch (error) {
        throw new DatabaseUnavailableError(error);
      }
    },
    end: () => pool.end(),
  };
}
