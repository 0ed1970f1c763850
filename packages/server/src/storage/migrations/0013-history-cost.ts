import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectAdapter } from '../dialects/dialect-adapter.ts';

/**
 * The tables that grow with a tenant's messaging history, whose indexes the planner must never mistake for
 * a way to narrow it (issue 11).
 */
const historyTables = [
  'attachment_shares',
  'attachments',
  'dialog_events',
  'dialog_members',
  'dialogs',
  'hidden_messages',
  'message_reactions',
  'message_search',
  'messages',
];

/**
 * What SQLite is told about a large tenant: a table of a million rows, of which `tenant_id = ?` keeps a tenth;
 * each further column of an index keeps a hundred rows, and the whole key of a unique index one.
 */
const TABLE_ROWS = 1_000_000;
const TENANT_ROWS = 100_000;
const NEXT_COLUMN_ROWS = 100;

/**
 * Costs that must not grow with history (issue 11).
 * - `hidden_messages_user (tenant_id, user_id)` goes: no query looks up hidden messages by user alone, and
 *   planners preferred it to the primary key `(message_id, user_id)`, reading everything the user ever hid.
 * - `attachment_shares_message` becomes `(message_id, tenant_id)`: led by `tenant_id`, no foreign-key lookup
 *   from a message could use it (deleting a message read every share of the table).
 * - SQLite only: without statistics SQLite assumes that `column = ?` on an index keeps about ten rows, so
 *   `tenant_id = ?` looked as selective as a dialog or an id, and SQLite walked a tenant's whole history
 *   through an index led by `tenant_id` (the unique `(tenant_id, sender_id, client_id)` of messages) to find
 *   a few messages by id or a dialog's newest ones. Parley never runs ANALYZE (statistics taken on a young
 *   database mislead as much); this records once, in `sqlite_stat1`, the shape of a large tenant for every
 *   index led by `tenant_id` on the history tables, so that no plan prefers one to a key that bounds it. An
 *   operator's own ANALYZE replaces them with measured ones (on a database of few tenants they say the same
 *   of `tenant_id`); the history-cost test checks the plans this gives.
 */
export const historyCostMigration = (adapter: DialectAdapter): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema.dropIndex('hidden_messages_user').execute();
    await db.schema.dropIndex('attachment_shares_message').execute();
    await db.schema
      .createIndex('attachment_shares_message')
      .on('attachment_shares')
      .columns(['message_id', 'tenant_id'])
      .execute();
    if (adapter.name === 'sqlite') await recordTenantShape(db);
  },
});

async function recordTenantShape(db: Kysely<unknown>): Promise<void> {
  // Creates sqlite_stat1 when it does not exist yet (ANALYZE of a table without indexes reads nothing).
  await sql`analyze sqlite_schema`.execute(db);
  const { rows } = await sql<{ tbl: string; idx: string; unique: number; columns: string }>`
    select m.name as tbl, il.name as idx, il."unique" as "unique",
      (select json_group_array(ii.name) from pragma_index_info(il.name) ii) as columns
    from sqlite_schema m, pragma_index_list(m.name) il
    where m.type = 'table' and m.name in (${sql.join(historyTables)})`.execute(db);
  for (const index of rows) {
    const columns = JSON.parse(index.columns) as string[];
    if (columns[0] !== 'tenant_id') continue;
    const rest = columns
      .slice(1)
      .map((_, position) => (index.unique === 1 && position === columns.length - 2 ? 1 : NEXT_COLUMN_ROWS));
    const stat = [TABLE_ROWS, TENANT_ROWS, ...rest].join(' ');
    await sql`delete from sqlite_stat1 where tbl = ${index.tbl} and idx = ${index.idx}`.execute(db);
    await sql`insert into sqlite_stat1 (tbl, idx, stat) values (${index.tbl}, ${index.idx}, ${stat})`.execute(
      db,
    );
  }
  // Loads the statistics into this connection's planner (others load them when they open).
  await sql`analyze sqlite_schema`.execute(db);
}
