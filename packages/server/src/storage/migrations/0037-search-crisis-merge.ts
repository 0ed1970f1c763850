import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * How many FTS5 segments one level of the message index may hold before FTS5 merges that whole level at
 * once, inside the write that reached it (FTS5's default is 16).
 *
 * With `automerge` at 16 (migration 0014) the default left no room: a level reached the crisis count as soon
 * as incremental merging would have started on it, so FTS5 merged the whole level in one go, inside the next
 * statement of a send batch (`sqlite3VtabSavepoint` → `fts5IndexFlush` → `fts5IndexMergeLevel`, seen in a
 * `perf` profile of the server). Each time the send path stopped for 100–400 ms, about every ten seconds at
 * 1,500 messages a second, with a growing index. At 64 the incremental merges (a little work per flush, in
 * proportion to what it wrote) finish a level long before it reaches the crisis count, so no write pays for
 * a whole level (docs/performance.md, issue 11). Merging still starts at 16 segments; a level holds more
 * only while its incremental merge is under way, and a query then reads those few more.
 */
export const SEARCH_CRISIS_MERGE = 64;

/** SQLite only: PostgreSQL's index has no segments. The setting is stored in the FTS5 table's own config. */
export const searchCrisisMergeMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    if (adapter.name !== 'sqlite') return;
    await sql`insert into message_search_fts (message_search_fts, rank)
      values ('crisismerge', ${sql.lit(SEARCH_CRISIS_MERGE)})`.execute(db);
  },
});
