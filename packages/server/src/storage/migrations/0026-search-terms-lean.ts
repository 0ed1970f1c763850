import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * PostgreSQL's term rows (`message_search_terms`, one per walked token of a message) were most of the cost of
 * a send: each row paid a foreign-key check against `messages` (a trigger and a lookup, plus a row lock) and
 * a second index, by message, that existed only to remove a message's rows. Measured on this machine: the
 * two made 34 % of the time to insert 67 rows. Both go; a message's rows now leave with its `message_search`
 * entry, by the entry's own tokens — the terms are a subset of them — so every way an entry is removed
 * (`removeMessage`, or the cascade from a deleted message: erasure, retention, tenant purge) takes its rows
 * along, each by a primary-key probe. The trigger runs as the deleting role, under row-level security.
 *
 * Rows written before this migration for the beginnings a walk no longer seeks by (search-tokens.ts,
 * `walkedPrefixLengths`) are in the entry's tokens too, so they leave with it; `parley search reindex
 * --rebuild` drops them sooner. SQLite keeps its index in FTS5 and has no term rows.
 */
export const searchTermsLeanMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    if (adapter.name === 'sqlite') return;
    // `jit = off`: a per-row statement planned on stale statistics (a table grown faster than autovacuum
    // analyses it) was estimated at 160,000 rows and JIT-compiled on every call, 0.2 s per delete (measured
    // while growing the bench database); its real cost is a few index probes.
    await sql`create function message_search_terms_follow_entry() returns trigger
      language plpgsql set jit = off as $$
      begin
        delete from message_search_terms
        where tenant_id = old.tenant_id and message_id = old.message_id
          and token = any (tsvector_to_array(old.tokens));
        return old;
      end $$`.execute(db);
    await sql`create trigger message_search_terms_follow_entry after delete on message_search
      for each row execute function message_search_terms_follow_entry()`.execute(db);
    await sql`do $$
      declare constraint_name text;
      begin
        for constraint_name in
          select conname from pg_constraint
          where conrelid = 'message_search_terms'::regclass and contype = 'f'
        loop
          execute format('alter table message_search_terms drop constraint %I', constraint_name);
        end loop;
      end $$`.execute(db);
    await sql`drop index message_search_terms_message`.execute(db);
  },
});
