import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * PostgreSQL's term rows in binary: the token as its 10 bytes (`bytea`) instead of 20 hex characters, the
 * message id as a `uuid` instead of 36 characters of text. Each message writes ~67 of these rows (one per
 * walked token), the largest part of a send's database time (docs/performance.md, issue 11); the narrower
 * row and key are cheaper to insert, to log and to keep in memory, and compare bytewise instead of under
 * the database's collation. Orders are unchanged: lower-case hex compares as its bytes do, and a UUID's
 * order is its bytes', so the walk from the newest message id down finds the same candidates.
 *
 * `tenant_id` stays text: the row-level security policy compares it to the session's tenant setting.
 * The change rewrites the table under an exclusive lock (sends wait for it, for a time that grows with the
 * table): docs/deployment.md, "Upgrading". SQLite keeps its index in FTS5 and has no term rows.
 */
export const searchTermsBinaryMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    if (adapter.name === 'sqlite') return;
    await sql`alter table message_search_terms
      alter column token type bytea using decode(token, 'hex'),
      alter column message_id type uuid using message_id::uuid`.execute(db);
    // The trigger of migration 0026, with the entry's tokens as one bytea array: a set of values (`any` over
    // a subquery) would be planned as a join, where an array is one probe of the primary key per token.
    await sql`create or replace function message_search_terms_follow_entry() returns trigger
      language plpgsql set jit = off as $$
      begin
        delete from message_search_terms
        where tenant_id = old.tenant_id and message_id = old.message_id::uuid
          and token = any (array(select decode(t, 'hex') from unnest(tsvector_to_array(old.tokens)) t));
        return old;
      end $$`.execute(db);
  },
});
