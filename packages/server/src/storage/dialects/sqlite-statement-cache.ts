import type { Database, Statement } from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Distinct SQL texts kept prepared; the application has a few hundred, so this never evicts in practice. */
const CAPACITY = 2000;

/**
 * Kysely's SQLite driver prepares every statement on every execution (compiling SQL costs tens of
 * microseconds, a quarter of a message's cost). This keeps prepared statements by SQL text and reuses them;
 * a statement still being iterated (a streamed query) is never shared: a fresh one is prepared instead.
 */
export function withStatementCache(database: Database): SqliteDatabase {
  const cache = new Map<string, Statement>();
  return {
    close: () => {
      cache.clear();
      database.close();
    },
    prepare(sql: string): SqliteStatement {
      const cached = cache.get(sql);
      if (cached && !cached.busy) return cached;
      const statement = database.prepare(sql);
      if (!cached) {
        if (cache.size >= CAPACITY) {
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) cache.delete(oldest);
        }
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}
