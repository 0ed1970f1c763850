import { sql } from 'kysely';
import type { Storage } from '../../storage/database.ts';
import { erasureCoverage } from './erasure-coverage.ts';

/**
 * The tables an erasure changes: those where the erasure coverage gives some column a treatment other than
 * keeping it (cleared, deleted, moved, shredded). Derived, so a table added to the coverage is vacuumed too.
 */
export const erasedTables: readonly string[] = [
  ...new Set([
    // Named whatever the coverage says of it: its old row version holds the wrapped account key.
    'user_keys',
    ...Object.entries(erasureCoverage)
      .filter(([, table]) => Object.values(table.columns).some((treatment) => !treatment.startsWith('kept:')))
      .map(([name]) => name),
  ]),
].sort();

/** How long `VACUUM FULL user_keys` may wait for its lock before the plain `VACUUM` stands in. */
const FULL_LOCK_TIMEOUT = '2s';

/**
 * After an erasure on PostgreSQL (docs/privacy.md, "Dead row versions and WAL"). Under MVCC an update or a
 * delete leaves the old row version in its heap page, readable to page-level tools until VACUUM removes it.
 * The versions an erasure leaves hold ciphertext only (a test searches every page of the schema for the
 * plaintext), but the tenant key that sealed messages and file names lives on, and the dead version of the
 * account's `user_keys` row holds the wrapped account key that crypto-shredding destroyed. So:
 *
 * - `VACUUM FULL user_keys` rewrites that small table into a new file, so the wrapped key leaves the heap
 *   pages themselves. It needs a short exclusive lock: when that is not granted within two seconds (a long
 *   transaction holds the table), the plain `VACUUM` below stands in, and the page keeps the dead bytes, no
 *   longer a row version, until its space is reused (`keysRewritten: false`).
 * - `VACUUM` of every table the erasure changed removes the dead versions from the heap and the indexes: no
 *   row version, old or new, carries the erased data any more. It takes no lock that blocks reads or writes.
 *
 * A VACUUM cannot remove a version some open transaction may still see (the oldest snapshot of the database
 * holds it back: a long report, an ANALYZE), and a rewrite copies such a version along; autovacuum removes
 * those later. SQLite checkpoints and truncates its WAL instead (the
 * caller). Resolves with whether the key table was rewritten.
 */
export async function vacuumAfterErasure(storage: Storage): Promise<{ keysRewritten: boolean }> {
  if (storage.dialect !== 'postgres') return { keysRewritten: false };
  const keysRewritten = await storage.kysely.connection().execute(async (db) => {
    await sql.raw(`set lock_timeout = '${FULL_LOCK_TIMEOUT}'`).execute(db);
    try {
      await sql`vacuum full ${sql.table('user_keys')}`.execute(db);
      return true;
    } catch {
      return false;
    } finally {
      await sql`reset lock_timeout`.execute(db);
    }
  });
  // The coverage names SQLite's own tables too (the FTS5 index): only the schema's tables are vacuumed.
  const { rows } = await sql<{ name: string }>`select relname as name from pg_class
    where relnamespace = current_schema()::regnamespace and relkind = 'r'
      and relname = any(${[...erasedTables]})`.execute(storage.kysely);
  // One table per statement: VACUUM runs outside any transaction, and each one releases its lock at once.
  for (const { name } of rows) await sql`vacuum ${sql.table(name)}`.execute(storage.kysely);
  return { keysRewritten };
}
