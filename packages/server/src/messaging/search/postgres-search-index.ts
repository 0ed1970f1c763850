import { sql } from 'kysely';
import type { TenantTx } from '../../storage/database.ts';
import type { IndexedMessage } from '../message-index.ts';
import {
  blindEntries,
  blindQuery,
  pageOf,
  type RawHit,
  type SearchHit,
  type SearchIndex,
  type SearchRequest,
  visibilityJoins,
  visibleTo,
} from './search-index.ts';
import type { SearchTokenHasher } from './search-token-hasher.ts';

/** PostgreSQL keeps positions up to this value (larger ones become it) and at most 256 per lexeme. */
const maxPosition = 16_383;
const maxPositionsPerToken = 256;

/**
 * A `tsvector` literal of blind tokens with their word positions. Built here rather than with
 * `to_tsvector`, so no text-search parser or dictionary ever interprets a token.
 */
export function tsvectorLiteral(tokens: readonly string[]): string {
  const positions = new Map<string, Set<number>>();
  tokens.forEach((token, index) => {
    const seen = positions.get(token) ?? new Set<number>();
    if (seen.size < maxPositionsPerToken) seen.add(Math.min(index + 1, maxPosition));
    positions.set(token, seen);
  });
  return [...positions].map(([token, at]) => `'${token}':${[...at].join(',')}`).join(' ');
}

/**
 * PostgreSQL: the blind tokens of a message are a `tsvector` (with positions, for phrases and `ts_rank`
 * normalised by length) and one `message_search_terms` row per distinct token. Candidates are found through
 * the terms' B-tree (every query token present), then checked and ranked against the tsvector: a GIN index
 * would go unused under row-level security (see migration 0007).
 */
export class PostgresSearchIndex implements SearchIndex {
  constructor(private readonly hasher: SearchTokenHasher) {}

  /**
   * One statement for any number of messages: the rows travel as arrays (a constant number of parameters,
   * far below PostgreSQL's limit of 65,535 even for 256 long messages), and the terms are written only for
   * the messages whose `message_search` row this statement inserted, so a message that already has an
   * entry keeps it unchanged. The terms insert needs no conflict handling (measured: it cost about a fifth
   * of the send rate): a message without an entry has no terms either, as `removeMessage` removes both and
   * the re-index clears stray terms first.
   */
  async indexMessages(tx: TenantTx, messages: readonly IndexedMessage[]): Promise<void> {
    const entries = await blindEntries(this.hasher, tx, messages);
    if (entries.length === 0) return;
    const terms = entries.flatMap(({ message, tokens }) =>
      [...new Set(tokens)].map((token) => [message.tenantId, token, message.messageId] as const),
    );
    await sql`with added as (
        insert into message_search (message_id, tenant_id, tokens)
        select e.message_id, e.tenant_id, e.tokens::tsvector
        from unnest(
          ${entries.map(({ message }) => message.messageId)}::text[],
          ${entries.map(({ message }) => message.tenantId)}::text[],
          ${entries.map(({ tokens }) => tsvectorLiteral(tokens))}::text[]
        ) as e(message_id, tenant_id, tokens)
        on conflict (message_id) do nothing
        returning message_id)
      insert into message_search_terms (tenant_id, token, message_id)
      select t.tenant_id, t.token, t.message_id
      from unnest(
        ${terms.map((term) => term[0])}::text[],
        ${terms.map((term) => term[1])}::text[],
        ${terms.map((term) => term[2])}::text[]
      ) as t(tenant_id, token, message_id)
      where t.message_id in (select message_id from added)`.execute(tx);
  }

  async reindexMessage(tx: TenantTx, message: IndexedMessage): Promise<void> {
    await this.removeMessage(tx, message.tenantId, message.messageId);
    await this.indexMessages(tx, [message]);
  }

  async removeMessage(tx: TenantTx, tenantId: string, messageId: string): Promise<void> {
    await sql`delete from message_search_terms
      where tenant_id = ${tenantId} and message_id = ${messageId}`.execute(tx);
    await sql`delete from message_search where tenant_id = ${tenantId} and message_id = ${messageId}`.execute(
      tx,
    );
  }

  async find(tx: TenantTx, request: SearchRequest): Promise<SearchHit[]> {
    const { tenantId } = request;
    const terms = await blindQuery(this.hasher, tx, request);
    const distinct = [...new Set(terms.flat())];
    // Tokens are lower-case hex: quoted lexemes need no escaping.
    const query = terms
      .map((term) => {
        const lexemes = term.map((token) => `'${token}'`);
        return lexemes.length === 1 ? lexemes[0] : `(${lexemes.join(' <-> ')})`;
      })
      .join(' & ');
    // Candidates (messages with every token), then the exact match (phrases) and rank, then visibility;
    // each step materialised so stale statistics cannot reorder them. float8: the cursor carries the score
    // as a JS number, which float4 text would not round-trip.
    const ranked = sql<RawHit>`with c as materialized (
        select message_id from message_search_terms
        where tenant_id = ${tenantId} and token in (${sql.join(distinct)})
        group by message_id having count(*) = ${distinct.length}
      ), f as materialized (
        select s.message_id, ts_rank(s.tokens, ${query}::tsquery, 1)::float8 as score
        from c join message_search s on s.message_id = c.message_id
        where s.tenant_id = ${tenantId} and s.tokens @@ ${query}::tsquery)
      select msg.id as message_id, msg.dialog_id, msg.created_at, f.score
      from f
      join messages msg on msg.id = f.message_id
      ${visibilityJoins(request)}
      where ${visibleTo(request)}`;
    return pageOf(tx, request, ranked);
  }
}
