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

  /** A message indexed twice keeps one entry; its text is assumed unchanged (edits come to `reindexMessage`). */
  async indexMessage(tx: TenantTx, message: IndexedMessage): Promise<void> {
    const { tenantId, messageId } = message;
    const blind = await this.hasher.forTenant(tx, tenantId);
    const tokens = textTokens(message.text).map(blind);
    if (tokens.length === 0) return;
    await sql`insert into message_search (message_id, tenant_id, tokens)
      values (${messageId}, ${tenantId}, ${tsvectorLiteral(tokens)}::tsvector)
      on conflict (message_id) do nothing`.execute(tx);
    const rows = [...new Set(tokens)].map((token) => sql`(${tenantId}, ${token}, ${messageId})`);
    await sql`insert into message_search_terms (tenant_id, token, message_id)
      values ${sql.join(rows)} on conflict do nothing`.execute(tx);
  }

  async reindexMessage(tx: TenantTx, message: IndexedMessage): Promise<void> {
    await this.removeMessage(tx, message.tenantId, message.messageId);
    await this.indexMessage(tx, message);
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
    const blind = await this.hasher.forTenant(tx, tenantId);
    const terms = request.query.terms.map((term) => term.map(blind));
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
