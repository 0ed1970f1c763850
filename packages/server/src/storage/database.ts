import path from 'node:path';
import { Kysely, sql, type Transaction } from 'kysely';
import type { DialectAdapter, DialectName } from './dialects/dialect-adapter.ts';
import { createPostgresAdapter } from './dialects/postgres.ts';
import { createSqliteAdapter } from './dialects/sqlite.ts';
import type { FileSync } from './dialects/sqlite-wal-sync.ts';
import type { Database } from './tables.ts';

declare const tenantTxBrand: unique symbol;
declare const systemTxBrand: unique symbol;

/**
 * A transaction bound to one tenant. Only `withTenant` (or `enterTenant`) can make one, so a store that
 * asks for a `TenantTx` cannot be handed a connection that skipped the tenant binding.
 */
export type TenantTx = Transaction<Database> & { readonly [tenantTxBrand]: string };

/** A transaction for cross-tenant maintenance (tenant creation, migrations, jobs); not bound to a tenant. */
export type SystemTx = Transaction<Database> & { readonly [systemTxBrand]: true };

export interface Storage {
  readonly dialect: DialectName;
  /** Runs `work` in one transaction bound to `tenantId`; commits when it resolves. */
  withTenant<T>(tenantId: string, work: (tx: TenantTx) => Promise<T>): Promise<T>;
  /** Runs `work` in one unbound maintenance transaction. */
  withSystem<T>(work: (tx: SystemTx) => Promise<T>): Promise<T>;
  /** Binds a running maintenance transaction to a tenant for the rest of it. */
  enterTenant(tx: SystemTx, tenantId: string): Promise<TenantTx>;
  /** Throws when the database cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** For the migrator and tests only. */
  readonly kysely: Kysely<Database>;
  readonly adapter: DialectAdapter;
}

const rollbackHooks = new WeakMap<object, (() => void)[]>();

/**
 * Runs `hook` if the transaction rolls back: for in-memory state (caches) that a transaction touched and
 * must not outlive it.
 */
export function onRollback(tx: Transaction<Database>, hook: () => void): void {
  const hooks = rollbackHooks.get(tx) ?? [];
  hooks.push(hook);
  rollbackHooks.set(tx, hooks);
}

/**
 * Runs `work` inside a savepoint of `tx`. If it throws, only its own changes are undone (and the rollback hooks
 * registered inside it run) and the error is rethrown; the transaction goes on. Lets one transaction carry
 * several independent pieces of work, each of which may fail alone.
 */
export async function withSavepoint<T>(tx: Transaction<Database>, work: () => Promise<T>): Promise<T> {
  const hooks = rollbackHooks.get(tx) ?? [];
  rollbackHooks.set(tx, hooks);
  const registeredBefore = hooks.length;
  await sql`savepoint nested_work`.execute(tx);
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await sql`rollback to savepoint nested_work`.execute(tx);
    await sql`release savepoint nested_work`.execute(tx);
    for (const hook of hooks.splice(registeredBefore)) hook();
    throw error;
  }
  await sql`release savepoint nested_work`.execute(tx);
  return result;
}

async function runTransaction<T>(
  kysely: Kysely<Database>,
  adapter: DialectAdapter,
  work: (tx: Transaction<Database>) => Promise<T>,
  observe: TransactionObserver | undefined,
): Promise<T> {
  let current: Transaction<Database> | undefined;
  let durable: (() => Promise<void>) | undefined;
  const started = performance.now();
  try {
    const result = await kysely.transaction().execute(async (tx) => {
      current = tx;
      const value = await work(tx);
      durable = adapter.durableAfterCommit?.();
      return value;
    });
    // Committed; on SQLite, durable only once the WAL's fsync is done (the connection serves others meanwhile).
    if (durable) await durable();
    observe?.((performance.now() - started) / 1000, undefined);
    return result;
  } catch (error) {
    observe?.((performance.now() - started) / 1000, error);
    if (current) for (const hook of rollbackHooks.get(current) ?? []) hook();
    throw error;
  }
}

/** Told of every transaction's duration, and of the error it ended with (undefined when it committed). */
export type TransactionObserver = (seconds: number, error: unknown) => void;

export interface StorageOptions {
  databaseUrl?: string | undefined;
  databaseSchema: string;
  databasePoolSize: number;
  /** PostgreSQL: how long a transaction waits for a connection (default 5 s). */
  databaseAcquireTimeoutMs?: number;
  dataDir: string;
  onPoolError?: (error: Error) => void;
  /** Metrics: called once per transaction, after it committed or rolled back. */
  onTransaction?: TransactionObserver;
  /** SQLite: how the WAL is flushed to disk (tests observe or delay it; the default is `fdatasync`). */
  sqliteWalSync?: FileSync;
}

export function openStorage(options: StorageOptions): Storage {
  const adapter = options.databaseUrl
    ? createPostgresAdapter({
        url: options.databaseUrl,
        schema: options.databaseSchema,
        poolSize: options.databasePoolSize,
        acquireTimeoutMs: options.databaseAcquireTimeoutMs ?? 5000,
        onPoolError: options.onPoolError ?? (() => undefined),
      })
    : createSqliteAdapter(path.join(options.dataDir, 'parley.db'), {
        ...(options.sqliteWalSync ? { walSync: options.sqliteWalSync } : {}),
      });
  const kysely = new Kysely<Database>({ dialect: adapter.dialect });
  const enterTenant = async (tx: SystemTx | Transaction<Database>, tenantId: string): Promise<TenantTx> => {
    await adapter.enterTenant(tx as Transaction<unknown>, tenantId);
    return tx as TenantTx;
  };
  return {
    dialect: adapter.name,
    kysely,
    adapter,
    withTenant: (tenantId, work) =>
      runTransaction(
        kysely,
        adapter,
        async (tx) => work(await enterTenant(tx, tenantId)),
        options.onTransaction,
      ),
    withSystem: (work) =>
      runTransaction(kysely, adapter, (tx) => work(tx as SystemTx), options.onTransaction),
    enterTenant,
    async ping() {
      await sql`select 1`.execute(kysely);
    },
    close: () => kysely.destroy(),
  };
}
