import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * How many FTS5 segments of one level wait before they are merged into the next (FTS5's default is 4).
 *
 * Every send batch commits one small level-0 segment of the message index, and FTS5 merges as it writes:
 * with 4-way merges a grown index rewrites each posting once per level, in steps that stall the commit that
 * runs them. Measured on a copy of a database grown to 1,000,000 messages (docs/performance.md, issue 11):
 * 16-way merges halve the CPU per commit (1.00 → 0.49 ms) and cut its p99 from 18 to 3 ms. A query reads
 * up to 16 segments per level instead of 4; search walks them newest first and stops early.
 */
export const SEARCH_AUTOMERGE = 16;

/** SQLite only: PostgreSQL's index has no segments. The setting is stored in the FTS5 table's own config. */
export const searchMergeMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    if (adapter.name !== 'sqlite') return;
    await sql`insert into message_search_fts (message_search_fts, rank)
      values ('automerge', ${sql.lit(SEARCH_AUTOMERGE)})`.execute(db);
  },
});
