import { sql } from 'kysely';
import type { TenantTx } from '../../storage/database.ts';
import type { IndexedMessage } from '../message-index.ts';
import {
  pageOf,
  type RawHit,
  type SearchHit,
  type SearchIndex,
  type SearchRequest,
  visibilityJoins,
  visibleTo,
} from './search-index.ts';
import type { SearchTokenHasher } from './search-token-hasher.ts';
import { textTokens } from './search-tokens.ts';

/**
 * SQLite: the blind tokens of a message, space-separated in order, are one row of the contentless FTS5 table
 * `message_search_fts`; `message_search` maps its row id to the message and tenant. Ranking is FTS5's bm25
 * (negated, so higher is better). A phrase is an FTS5 phrase of tokens, which works because tokens keep the
 * order of the words.
 */
export class SqliteSearchIndex implements SearchIndex {
  constructor(private readonly hasher: SearchTokenHasher) {}

  async indexMessage(tx: TenantTx, message: IndexedMessage): Promise<void> {
    await this.removeMessage(tx, message.tenantId, message.messageId);
    const blind = await this.hasher.forTenant(tx, message.tenantId);
    const tokens = textTokens(message.text).map(blind);
    if (tokens.length === 0) return;
    const { rows } = await sql<{ doc_id: number }>`insert into message_search (message_id, tenant_id)
      values (${message.messageId}, ${message.tenantId}) returning doc_id`.execute(tx);
    const docId = rows[0]?.doc_id;
    if (docId === undefined) throw new Error('message_search insert returned no row');
    await sql`insert into message_search_fts (rowid, tokens) values (${docId}, ${tokens.join(' ')})`.execute(
      tx,
    );
  }

  reindexMessage(tx: TenantTx, message: IndexedMessage): Promise<void> {
    return this.indexMessage(tx, message);
  }

  async removeMessage(tx: TenantTx, tenantId: string, messageId: string): Promise<void> {
    // The trigger deletes the FTS5 row with the mapping row.
    await sql`delete from message_search where tenant_id = ${tenantId} and message_id = ${messageId}`.execute(
      tx,
    );
  }

  async find(tx: TenantTx, request: SearchRequest): Promise<SearchHit[]> {
    const blind = await this.hasher.forTenant(tx, request.tenantId);
    // Tokens are lower-case hex, so quoting needs no escaping; a quoted string of several is a phrase.
    const match = request.query.terms.map((term) => `"${term.map(blind).join(' ')}"`).join(' AND ');
    // Matches first, then primary-key lookups: joined freely, SQLite may scan the tenant's messages and run
    // the full-text query per row (measured: 20 ms instead of 1 ms on 5 000 messages).
    const ranked = sql<RawHit>`with f as materialized (
        select rowid as doc_id, -bm25(message_search_fts) as score
        from message_search_fts where message_search_fts match ${match})
      select msg.id as message_id, msg.dialog_id, msg.created_at, f.score
      from f
      cross join message_search s on s.doc_id = f.doc_id
      cross join messages msg on msg.id = s.message_id
      ${visibilityJoins(request, sql`cross join`)}
      where s.tenant_id = ${request.tenantId} and ${visibleTo(request)}`;
    return pageOf(tx, request, ranked);
  }
}
