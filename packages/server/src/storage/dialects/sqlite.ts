import { chmodSync, existsSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { type SqliteDatabase as KyselySqliteDatabase, SqliteDialect } from 'kysely';
import type { DialectAdapter } from './dialect-adapter.ts';
import { withStatementCache } from './sqlite-statement-cache.ts';

/**
 * Embedded SQLite: WAL for concurrent readers, `synchronous = FULL` so a commit that returned survives a
 * power cut (NORMAL would not), foreign keys enforced. Tenant separation is by `tenant_id` filters only.
 * `secure_delete`: deleted and overwritten content is zeroed in its page, so an erased message's ciphertext
 * does not linger in free space of the file (erasure then truncates the WAL, docs/privacy.md "Erasure").
 */
export function createSqliteAdapter(file: string): DialectAdapter {
  const isNew = !existsSync(file);
  const sqlite = new SqliteDatabase(file);
  if (isNew) chmodSync(file, 0o600);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('secure_delete = ON');
  sqlite.pragma('busy_timeout = 5000');
  return {
    name: 'sqlite',
    dialect: new SqliteDialect({ database: immediateTransactions(withStatementCache(sqlite)) }),
    enterTenant: () => Promise.resolve(),
    prepareSchema: () => Promise.resolve(),
    finishMigrations: () => Promise.resolve(),
    isolateTenantTable: () => Promise.resolve(),
    admitSystemContextEverywhere: () => Promise.resolve(),
    isolateTenantsTable: () => Promise.resolve(),
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
