import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * The full-text index of message bodies. It holds blind tokens only (keyed hashes of normalised words, see
 * messaging/search/search-token-hasher.ts), never words. `message_search` maps a message to its entry and
 * carries `tenant_id`; the dialect decides where the tokens live:
 * - SQLite: an FTS5 table (contentless, bm25 ranking) keyed by `doc_id`; a trigger removes its row when the
 *   mapping row goes, including when the message row is deleted (foreign-key cascade). FTS5 tables cannot
 *   carry row-level security, and SQLite has none anyway: every query filters by tenant.
 * - PostgreSQL: a `tsvector` column (phrases, `ts_rank`) plus a token → message table with a B-tree index
 *   for finding candidates, both under row-level security like every tenant table.
 * Messages sent before this migration are not indexed (their bodies are sealed; a migration holds no keys).
 */
export const searchMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    if (adapter.name === 'sqlite') {
      await db.schema
        .createTable('message_search')
        .addColumn('doc_id', 'integer', (c) => c.primaryKey())
        .addColumn('message_id', 'text', (c) =>
          c.notNull().unique().references('messages.id').onDelete('cascade'),
        )
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .execute();
      await sql`create virtual table message_search_fts using fts5(
        tokens, tokenize = 'ascii', content = '', contentless_delete = 1)`.execute(db);
      await sql`create trigger message_search_fts_delete after delete on message_search begin
        delete from message_search_fts where rowid = old.doc_id;
      end`.execute(db);
      return;
    }
    await db.schema
      .createTable('message_search')
      .addColumn('message_id', 'text', (c) => c.primaryKey().references('messages.id').onDelete('cascade'))
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('tokens', sql`tsvector`, (c) => c.notNull())
      .execute();
    await adapter.isolateTenantTable(db, 'message_search');
    // Which messages hold a token, for finding candidates. Not a GIN index on `tokens`: the tsvector match
    // operator is not LEAKPROOF, so under row-level security PostgreSQL never uses such an index for the
    // application role and scans the table instead (measured). Text equality is leakproof: this B-tree is used.
    await db.schema
      .createTable('message_search_terms')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('token', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('message_search_terms_pk', ['tenant_id', 'token', 'message_id'])
      .execute();
    await db.schema
      .createIndex('message_search_terms_message')
      .on('message_search_terms')
      // Both columns, so removing a message's rows (which names both) prefers this index to the primary key.
      .columns(['message_id', 'tenant_id'])
      .execute();
    await adapter.isolateTenantTable(db, 'message_search_terms');
  },
});
