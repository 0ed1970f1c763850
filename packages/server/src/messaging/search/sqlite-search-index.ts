import { sql } from 'kysely';
import type { TenantTx } from '../../storage/database.ts';
import type { IndexedMessage } from '../message-index.ts';
import {
  type BlindEntry,
  blindEntries,
  blindQuery,
  invalidCursor,
  maxCandidates,
  pageOf,
  type SearchIndex,
  type SearchPage,
  type SearchRequest,
  visibleTo,
} from './search-index.ts';
import type { SearchTokenHasher } from './search-token-hasher.ts';

/** A row id of `message_search_fts` (a positive integer) as a cursor carries it. */
const docIdShape = /^[1-9][0-9]{0,15}$/;

/**
 * SQLite: the blind tokens of a message, space-separated in order, are one row of the contentless FTS5 table
 * `message_search_fts`; `message_search` maps its row id (`doc_id`) to the message and tenant. Row ids are
 * given in indexing order and an edit keeps its message's, so walking them downwards is newest first. A
 * phrase is an FTS5 phrase of tokens, which works because tokens keep the order of the words.
 */
export class SqliteSearchIndex implements SearchIndex {
  constructor(
    private readonly hasher: SearchTokenHasher,
    private readonly options: { maxCandidates: number } = { maxCandidates },
  ) {}

  /**
   * Two statements for any number of messages, each with constant SQL text (the rows travel as one JSON
   * parameter), so the statement cache holds one prepared statement whatever the batch size.
   */
  async indexMessages(tx: TenantTx, messages: readonly IndexedMessage[]): Promise<void> {
    await this.insertEntries(tx, await blindEntries(this.hasher, tx, messages));
  }

  private async insertEntries(tx: TenantTx, entries: readonly BlindEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const mapping = JSON.stringify(entries.map(({ message }) => [message.messageId, message.tenantId]));
    // `where true`: SQLite's upsert after a SELECT needs it to parse. A message that has an entry keeps it
    // (no row returned, so no second FTS5 row either).
    const { rows } = await sql<{ doc_id: number; message_id: string }>`insert into message_search
        (message_id, tenant_id)
      select value ->> 0, value ->> 1 from json_each(${mapping}) where true
      on conflict (message_id) do nothing
      returning doc_id, message_id`.execute(tx);
    if (rows.length === 0) return;
    const tokensOf = new Map(entries.map(({ message, tokens }) => [message.messageId, tokens.join(' ')]));
    const documents = JSON.stringify(rows.map((row) => [row.doc_id, tokensOf.get(row.message_id) ?? '']));
    await sql`insert into message_search_fts (rowid, tokens)
      select value ->> 0, value ->> 1 from json_each(${documents})`.execute(tx);
  }

  /**
   * Replaces the tokens in place, under the entry's row id: search orders by row id, so an edited message
   * keeps its place (when it was sent) instead of moving to the top. A contentless-delete FTS5 table takes an
   * UPDATE that sets every column. A message without an entry gets one; one left without words loses it.
   */
  async reindexMessage(tx: TenantTx, message: IndexedMessage): Promise<void> {
    const { rows } = await sql<{ doc_id: number }>`select doc_id from message_search
      where tenant_id = ${message.tenantId} and message_id = ${message.messageId}`.execute(tx);
    const [entry] = await blindEntries(this.hasher, tx, [message]);
    const docId = rows[0]?.doc_id;
    if (entry === undefined) await this.removeMessage(tx, message.tenantId, message.messageId);
    else if (docId === undefined) await this.insertEntries(tx, [entry]);
    else
      await sql`update message_search_fts set tokens = ${entry.tokens.join(' ')}
        where rowid = ${docId}`.execute(tx);
  }

  async removeMessage(tx: TenantTx, tenantId: string, messageId: string): Promise<void> {
    // The trigger deletes the FTS5 row with the mapping row.
    await sql`delete from message_search where tenant_id = ${tenantId} and message_id = ${messageId}`.execute(
      tx,
    );
  }

  /**
   * FTS5 walks the entries that hold every query token in row-id order, newest first, and stops early: the
   * subquery with its LIMIT (the cap) runs as a co-routine feeding the outer loop, which checks each
   * candidate's tenant and visibility by primary keys in walk order (SQLite knows the subquery's order, so
   * the outer ORDER BY sorts nothing) and stops at a page and one more. When it finds fewer, it has examined
   * every candidate up to the cap; then the cap-th candidate (if there is one) is where the walk stopped: one
   * more walk of the same entries, without table lookups. FTS5 intersects several words (and checks
   * phrases) inside its own walk, which the cap does not bound: entries of words that are each common but
   * rarely together are read until a match (docs/performance.md).
   */
  async find(tx: TenantTx, request: SearchRequest): Promise<SearchPage> {
    const { maxCandidates: cap } = this.options;
    if (request.after !== undefined && !docIdShape.test(request.after)) throw invalidCursor();
    const terms = await blindQuery(this.hasher, tx, request);
    // Tokens are lower-case hex, so quoting needs no escaping; a quoted string of several is a phrase.
    const match = terms.map((term) => `"${term.join(' ')}"`).join(' AND ');
    const below = request.after === undefined ? sql`` : sql`and rowid < ${Number(request.after)}`;
    const candidates = sql`select rowid as doc_id from message_search_fts
      where message_search_fts match ${match} ${below} order by rowid desc`;
    // Cross joins fix the join order: candidates first, then one primary-key lookup each.
    const { rows } = await sql<{ doc_id: number; message_id: string; dialog_id: string }>`
      select f.doc_id, msg.id as message_id, msg.dialog_id
      from (${candidates} limit ${cap}) f
      cross join message_search s on s.doc_id = f.doc_id
      cross join messages msg on msg.id = s.message_id
      where s.tenant_id = ${request.tenantId} and ${visibleTo(request)}
      order by f.doc_id desc
      limit ${request.limit + 1}`.execute(tx);
    const found = rows.map((row) => ({
      messageId: row.message_id,
      dialogId: row.dialog_id,
      position: String(row.doc_id),
    }));
    if (found.length > request.limit) return pageOf(request, found, undefined);
    const { rows: last } = await sql<{ doc_id: number }>`${candidates} limit 1 offset ${cap - 1}`.execute(tx);
    return pageOf(request, found, last[0] === undefined ? undefined : String(last[0].doc_id));
  }
}
