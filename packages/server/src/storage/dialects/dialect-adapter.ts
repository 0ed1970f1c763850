import type { Dialect, Kysely, Transaction } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

/**
 * What differs between the two databases, and nothing else: how a transaction is bound to one tenant,
 * and the tenant-isolation DDL that only PostgreSQL has. Everything else is portable Kysely.
 */
export interface DialectAdapter {
  readonly name: DialectName;
  readonly dialect: Dialect;
  /** The PostgreSQL schema holding Parley's tables (SQLite has none). */
  readonly schema?: string;
  /**
   * How many write transactions that touch disjoint rows are worth running at once: SQLite has one writer,
   * so 1; PostgreSQL commits them in parallel, bounded so that reads keep connections of the pool.
   */
  readonly writeConcurrency: number;
  /**
   * Asked at the end of a transaction's work, before it commits: what to call once it committed and wait for
   * before the transaction counts as durable (SQLite: the WAL's fsync, off the event loop), or undefined when
   * nothing needs waiting (it wrote nothing; PostgreSQL, whose commit returns durable).
   */
  durableAfterCommit?(): (() => Promise<void>) | undefined;
  /** Binds the running transaction to one tenant (PostgreSQL: `app.tenant_id` + the restricted role). */
  enterTenant(tx: Transaction<unknown>, tenantId: string): Promise<void>;
  /** Creates the schema before migrations run. */
  prepareSchema(db: Kysely<unknown>): Promise<void>;
  /** Grants the restricted application role what it needs after migrations ran. */
  finishMigrations(db: Kysely<unknown>): Promise<void>;
  /**
   * Puts a tenant-owned table under row-level security keyed by `tenant_id` for tenant transactions, and
   * opens it to the system context (`withSystem`, which does not run as the application role).
   */
  isolateTenantTable(db: Kysely<unknown>, table: string): Promise<void>;
  /** Opens to the system context every isolated tenant table that is not yet (migration 0021). */
  admitSystemContextEverywhere(db: Kysely<unknown>): Promise<void>;
  /** Lets the restricted role see only its own row of `tenants`. */
  isolateTenantsTable(db: Kysely<unknown>): Promise<void>;
}
