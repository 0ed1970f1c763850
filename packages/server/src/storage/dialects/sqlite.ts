import { chmodSync, existsSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { type SqliteDatabase as KyselySqliteDatabase, SqliteDialect } from 'kysely';
import type { DialectAdapter } from './dialect-adapter.ts';
import { withStatementCache } from './sqlite-statement-cache.ts';
import { type FileSync, WalSync } from './sqlite-wal-sync.ts';

/**
 * Embedded SQLite: WAL for concurrent readers, foreign keys enforced. Tenant separation is by `tenant_id`
 * filters only. `secure_delete`: deleted and overwritten content is zeroed in its page, so an erased
 * message's ciphertext does not linger in free space of the file (erasure then truncates the WAL,
 * docs/privacy.md "Erasure").
 *
 * Durability is that of `synchronous = FULL` — a transaction that returned survives a power cut — but the
 * WAL's fsync runs on the thread pool, shared by the commits made meanwhile (sqlite-wal-sync.ts): the
 * connection runs `synchronous = NORMAL`, and `durableAfterCommit` hands every transaction that wrote the
 * wait for an fsync that began after its commit.
 */
export function createSqliteAdapter(file: string, options: { walSync?: FileSync } = {}): DialectAdapter {
  const isNew = !existsSync(file);
  const sqlite = new SqliteDatabase(file);
  if (isNew) chmodSync(file, 0o600);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('secure_delete = ON');
  sqlite.pragma('busy_timeout = 5000');
  const wal = new WalSync(`${file}-wal`, options.walSync);
  const writes = trackWrites(sqlite, wal, immediateTransactions(withStatementCache(sqlite)));
  return {
    name: 'sqlite',
    writeConcurrency: 1,
    dialect: new SqliteDialect({ database: writes.database }),
    durableAfterCommit: () => (writes.takeWrote() ? () => wal.flushed() : undefined),
    enterTenant: () => Promise.resolve(),
    prepareSchema: () => Promise.resolve(),
    finishMigrations: () => Promise.resolve(),
    isolateTenantTable: () => Promise.resolve(),
    admitSystemContextEverywhere: () => Promise.resolve(),
    isolateTenantsTable: () => Promise.resolve(),
  };
}

/**
 * Notes whether the running transaction wrote (a statement SQLite does not call read-only), and makes a write
 * outside any transaction (autocommit: maintenance statements, migrations) durable before it returns.
 */
function trackWrites(sqlite: SqliteDatabase.Database, wal: WalSync, database: KyselySqliteDatabase) {
  let wrote = false;
  const tracked: KyselySqliteDatabase = {
    close: () => {
      database.close();
      void wal.close();
    },
    prepare(text) {
      const statement = database.prepare(text);
      // BEGIN IMMEDIATE is not "read-only" to SQLite, but it writes nothing; COMMIT and ROLLBACK are.
      if (text === 'begin') {
        wrote = false;
        return statement;
      }
      if ((statement as unknown as { readonly: boolean }).readonly) return statement;
      if (sqlite.inTransaction) {
        wrote = true;
        return statement;
      }
      // Kysely streams only selects; `all` also serves writes with `returning`.
      return {
        reader: statement.reader,
        all(parameters) {
          const rows = statement.all(parameters);
          wal.flushNow();
          return rows;
        },
        iterate: (parameters) => statement.iterate(parameters),
        run(parameters) {
          const result = statement.run(parameters);
          wal.flushNow();
          return result;
        },
      };
    },
  };
  return {
    database: tracked,
    /** Whether the transaction now ending wrote; asked once, at the end of its work (before its commit). */
    takeWrote(): boolean {
      const result = wrote;
      wrote = false;
      return result;
    },
  };
}

/**
 * Every transaction takes the write lock when it begins (`begin immediate`; Kysely sends `begin`). A deferred
 * transaction reads a snapshot and takes the lock only at its first write: if another process (a CLI command
 * such as `parley search reindex`, run while the server runs) committed in between, that write fails at once
 * with `SQLITE_BUSY_SNAPSHOT` ("database is locked") instead of waiting the busy timeout. Within one process
 * Kysely already runs one transaction at a time on the single connection, so this changes nothing there.
 */
function immediateTransactions(database: KyselySqliteDatabase): KyselySqliteDatabase {
  return {
    close: () => {
      database.close();
    },
    prepare: (text) => database.prepare(text === 'begin' ? 'begin immediate' : text),
  };
}
