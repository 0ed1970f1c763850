import { type RawBuilder, sql } from 'kysely';
import type { TenantTx } from '../../storage/database.ts';
import type { IndexedMessage } from '../message-index.ts';
import {
  blindEntries,
  blindQuery,
  blindWalkTokens,
  invalidCursor,
  maxCandidates,
  pageOf,
  type SearchIndex,
  type SearchPage,
  type SearchRequest,
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
 * The query tokens a walk seeks through (any more are checked against the candidate's `tsvector`): each step
 * costs up to two index probes per token, and a few are enough to skip quickly past what lacks any of them.
 */
const maxWalkedTokens = 4;

/** Above every message id (they are lower-case UUIDs, all of one shape): where a first page starts. */
const aboveEveryId = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
const messageIdShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * PostgreSQL: the blind tokens of a message are a `tsvector` (with positions, for phrases; every token) and
 * one `message_search_terms` row per distinct walked token (words, and beginnings of 3, 5 and 8 characters:
 * `walkedPrefixLengths`; a query prefix walks the longest of those it reaches, the tsvector checks the rest). A search walks the terms' primary key (tenant, token,
 * message id) from the newest message id down — ids are UUIDv7, so that is creation order — and checks each
 * candidate's visibility (and phrases, against its tsvector) as it goes. A GIN index would go unused under
 * row-level security (see migration 0007); text comparisons are leakproof, so the B-tree serves the walk.
 */
export class PostgresSearchIndex implements SearchIndex {
  constructor(
    private readonly hasher: SearchTokenHasher,
    private readonly options: { maxCandidates: number } = { maxCandidates },
  ) {}

  /**
   * One statement for any number of messages: the rows travel as arrays (a constant number of parameters,
   * far below PostgreSQL's limit of 65,535 even for 256 long messages), and the terms are written only for
   * the messages whose `message_search` row this statement inserted, so a message that already has an
   * entry keeps it unchanged. The terms insert needs no conflict handling (measured: it cost about a fifth
   * of the send rate): a message without an entry has no terms either, as they leave with the entry
   * (migration 0026). Terms are written for the walked tokens only (`BlindEntry.walked`).
   */
  async indexMessages(tx: TenantTx, messages: readonly IndexedMessage[]): Promise<void> {
    const entries = await blindEntries(this.hasher, tx, messages, { walked: true });
    if (entries.length === 0) return;
    const terms = entries.flatMap(({ message, walked = [] }) =>
      walked.map((token) => [message.tenantId, token, message.messageId] as const),
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
      select t.tenant_id, decode(t.token, 'hex'), t.message_id::uuid
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

  /** The entry's term rows go with it (the trigger of migration 0026, by the entry's own tokens). */
  async removeMessage(tx: TenantTx, tenantId: string, messageId: string): Promise<void> {
    await sql`delete from message_search where tenant_id = ${tenantId} and message_id = ${messageId}`.execute(
      tx,
    );
  }

  /**
   * One statement. A recursive walk finds the candidates one step at a time, newest first, by leapfrogging
   * (as search engines intersect posting lists): from a position, each walked token's newest message below it
   * (one probe of the primary key each); the oldest of those is the next candidate, since no message above it
   * can hold every token; it is a candidate when all tokens hold it (one more probe each for those that were
   * above it). A rare token thus skips the walk past the runs of a common one. The steps stop at the cap; the
   * outer query checks each candidate in step order — visible to the caller, and its entry's `tsvector`
   * matches the whole query (phrases, tokens beyond the walked ones; no entry, no match: stray terms of a
   * lost entry find nothing) — and its LIMIT stops the walk as soon as a page and one more are found (a
   * recursive query is evaluated only as far as its rows are read). The last step comes out too, matched or
   * not: where the next page starts when the cap ends the walk (a null one: the tokens ran out). The walk
   * carries each candidate's id as text too (`id`), made where the step is: compared as `at::text` in the
   * join, the cast (not leakproof) would keep row-level security from using the index of `messages`, and
   * each candidate would scan the table (24 s for one search at 10× history in history-cost.test.ts).
   *
   * Probes of one row keep the plan on the primary key whatever the statistics say. Asked instead for a very
   * common token's newest 2,000 entries in one ordered scan, PostgreSQL chose (on a table not yet vacuumed)
   * to walk `message_search_terms_message` — every token's rows, by message id — and filter, reading 27,301
   * rows for 2,001; and for a word common long ago but rare now such a walk reads most of the history.
   */
  async find(tx: TenantTx, request: SearchRequest): Promise<SearchPage> {
    const { tenantId } = request;
    const { maxCandidates: cap } = this.options;
    if (request.after !== undefined && !messageIdShape.test(request.after)) throw invalidCursor();
    const terms = await blindQuery(this.hasher, tx, request);
    const walked = (await blindWalkTokens(this.hasher, tx, request)).slice(0, maxWalkedTokens);
    const { rows } = await sql<{ step: number; at: string | null; dialog_id: string | null }>`
      with recursive walk (step, at, id, hit) as (
        select 1, p.at, p.at::text, p.hit
        from ${walkStep(tenantId, walked, sql`${request.after ?? aboveEveryId}::uuid`)} p
        union all
        select w.step + 1, p.at, p.at::text, p.hit
        from walk w cross join lateral ${walkStep(tenantId, walked, sql`w.at`)} p
        where w.step < ${cap} and w.at is not null)
      select w.step, w.id as at, v.dialog_id
      from walk w
      left join lateral (
        select msg.dialog_id from messages msg
        where w.hit and msg.id = w.id and ${visibleTo(request, sql`offset 0`)}
          and exists (select 1 from message_search s
            where s.tenant_id = ${tenantId} and s.message_id = msg.id
              and s.tokens @@ ${tsquery(terms)}::tsquery offset 0)
        offset 0) v on true
      where v.dialog_id is not null or w.at is null or w.step = ${cap}
      limit ${request.limit + 1}`.execute(tx);
    // The walk's rows come in step order (a recursive query appends each step's row, and the nested loop
    // keeps its outer order); a plan that reordered them would make the LIMIT drop matches unseen.
    if (rows.some((row, index) => index > 0 && row.step <= (rows[index - 1]?.step ?? 0)))
      throw new Error('The search walk returned its steps out of order.');
    const found = rows.flatMap((row) =>
      row.at !== null && row.dialog_id !== null
        ? [{ messageId: row.at, dialogId: row.dialog_id, position: row.at }]
        : [],
    );
    const last = rows.at(-1);
    const stoppedAt = last?.at !== null && last?.step === cap ? last.at : undefined;
    return pageOf(request, found, stoppedAt);
  }
}

/** The query as a `tsquery` of blind tokens: terms and'ed, a phrase's tokens followed by each other. */
function tsquery(terms: readonly (readonly string[])[]): string {
  // Tokens are lower-case hex: quoted lexemes need no escaping.
  return terms
    .map((term) => {
      const lexemes = term.map((token) => `'${token}'`);
      return lexemes.length === 1 ? lexemes[0] : `(${lexemes.join(' <-> ')})`;
    })
    .join(' & ');
}

/**
 * One step of the walk below `below`, as a subquery of one row: `at`, the next candidate (null once a token
 * has nothing further), and `hit`, whether every token holds it. Each probe is one descent of the primary
 * key (an index condition on tenant, token and message id, then LIMIT 1). `offset 0` keeps the probes in
 * their own subquery: pulled up, each mention of a probe's column would run the probe again.
 */
function walkStep(tenantId: string, tokens: readonly string[], below: RawBuilder<unknown>) {
  const column = (index: number) => sql.raw(`a${index}`);
  const probes = tokens.map(
    (token, index) => sql`(select t.message_id from message_search_terms t
      where t.tenant_id = ${tenantId} and t.token = decode(${token}, 'hex') and t.message_id < ${below}
      order by t.message_id desc limit 1) as ${column(index)}`,
  );
  const anyEnded = sql.join(
    tokens.map((_, index) => sql`x.${column(index)} is null`),
    sql` or `,
  );
  const oldest = sql`least(${sql.join(tokens.map((_, index) => sql`x.${column(index)}`))})`;
  const holds = tokens.map(
    (token, index) => sql`(y.${column(index)} = y.at or exists (select 1 from message_search_terms t
      where t.tenant_id = ${tenantId} and t.token = decode(${token}, 'hex') and t.message_id = y.at))`,
  );
  const hit = tokens.length === 1 ? sql`true` : sql.join(holds, sql` and `);
  return sql`(select y.at, ${hit} as hit
    from (select x.*, case when ${anyEnded} then null else ${oldest} end as at
      from (select ${sql.join(probes)} offset 0) x) y)`;
}
