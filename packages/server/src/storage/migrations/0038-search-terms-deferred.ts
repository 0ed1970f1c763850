import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * PostgreSQL writes a message's term rows after the send committed, not inside it (docs/performance.md,
 * issue 11: the ~67 term rows a message were 38 % of the database's statement time and held the send's
 * dialog locks while they were written). The send writes the entry (`message_search`, whose `tsvector` marks
 * the walked tokens with weight A) and one `message_search_pending` row; the node's term follower, or the
 * next search of the tenant, turns pending entries into term rows and deletes their pending row in the same
 * transaction. Nothing is lost across a crash: the pending row is committed with the message.
 *
 * A pending row leaves with its entry (the trigger of migration 0026, which now removes it too), so a removed
 * message never gets terms written afterwards. SQLite keeps its index in FTS5 and has no term rows.
 */
export const searchTermsDeferredMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    if (adapter.name === 'sqlite') return;
    await db.schema
      .createTable('message_search_pending')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('message_search_pending_pk', ['tenant_id', 'message_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'message_search_pending');
    await sql`create or replace function message_search_terms_follow_entry() returns trigger
      language plpgsql set jit = off as $$
      begin
        delete from message_search_terms
        where tenant_id = old.tenant_id and message_id = old.message_id
          and token = any (tsvector_to_array(old.tokens));
        delete from message_search_pending
        where tenant_id = old.tenant_id and message_id = old.message_id;
        return old;
      end $$`.execute(db);
  },
});
