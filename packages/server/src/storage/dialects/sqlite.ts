import { chmodSync, existsSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { SqliteDialect } from 'kysely';
import type { DialectAdapter } from './dialect-adapter.ts';
import { withStatementCache } from './sqlite-statement-cache.ts';

/**
 * Embedded SQLite: WAL for concurrent readers, `synchronous = FULL` so a commit that returned survives a
 * power cut (NORMAL would not), foreign keys enforced. Tenant separation is by `tenant_id` filters only.
 */
export function createSqliteAdapter(file: string): DialectAdapter {
  const isNew = !existsSync(file);
  const sqlite = new SqliteDatabase(file);
  if (isNew) chmodSync(file, 0o600);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return {
    name: 'sqlite',
    dialect: new SqliteDialect({ database: withStatementCache(sqlite) }),
    enterTenant: () => Promise.resolve(),
    prepareSchema: () => Promise.resolve(),
    finishMigrations: () => Promise.resolve(),
    isolateTenantTable: () => Promise.resolve(),
    isolateTenantsTable: () => Promise.resolve(),
  };
}
