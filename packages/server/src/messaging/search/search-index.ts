import { type RawBuilder, sql } from 'kysely';
import type { TenantTx } from '../../storage/database.ts';
import type { IndexedMessage, MessageIndex } from '../message-index.ts';
import type { BlindTokenFn, SearchTokenHasher } from './search-token-hasher.ts';
import { indexedPrefix, type ParsedQuery, prefixTokens, textTokens } from './search-tokens.ts';

/** Where a result page ends: the next page starts strictly after it in (score desc, newest, id) order. */
export interface SearchPosition {
  score: number;
  createdAt: number;
  messageId: string;
}

export interface SearchRequest {
  tenantId: string;
  /** Only messages this user may see now are found. */
  userId: string;
  /** Search one dialog instead of all of the user's dialogs. */
  dialogId?: string | undefined;
  query: ParsedQuery;
  limit: number;
  after?: SearchPosition | undefined;
}

export interface SearchHit extends SearchPosition {
  dialogId: string;
}

/**
 * The message index with its query side: a dialect's full-text engine over blind tokens. `find` returns only
 * messages the user may see — member now (not left), the dialog not deleted, the message neither deleted nor
 * hidden by this user ("delete for me"), after the member's cleared history, and after their joining when the
 * dialog hides earlier history — best first.
 */
export interface SearchIndex extends MessageIndex {
  find(tx: TenantTx, request: SearchRequest): Promise<SearchHit[]>;
}

/**
 * A message to index with its document: the blind tokens of its words in order (repeats kept: phrases and
 * ranking need them), then the blind tokens of their beginnings, sorted by token, so their order tells
 * nothing about which word each came from. Phrases cannot reach into the beginnings: their tokens differ.
 */
export interface BlindEntry {
  message: IndexedMessage;
  tokens: string[];
}

/**
 * At most this many distinct tokens in one message's entry. PostgreSQL refuses a `tsvector` over 1 MiB, which
 * 64 KiB of distinct long words (the largest message a tenant may allow) would exceed with their beginnings:
 * every whole word is kept (those of 64 KiB are always fewer), then beginnings in word order until the cap,
 * so the beginnings of the last words of such a message are not indexed. Up to 16 KiB (the default limit)
 * a message never reaches it. The same cap on both dialects, so both find the same messages.
 */
export const maxTokensPerEntry = 20_000;

/** The blind tokens of each message, each under its tenant's key; messages without words are left out. */
export async function blindEntries(
  hasher: SearchTokenHasher,
  tx: TenantTx,
  messages: readonly IndexedMessage[],
): Promise<BlindEntry[]> {
  const byTenant = new Map<string, { word: BlindTokenFn; prefix: BlindTokenFn }>();
  const entries: BlindEntry[] = [];
  for (const message of messages) {
    let blind = byTenant.get(message.tenantId);
    if (blind === undefined) {
      blind = {
        word: await hasher.forTenant(tx, message.tenantId, 'word'),
        prefix: await hasher.forTenant(tx, message.tenantId, 'prefix'),
      };
      byTenant.set(message.tenantId, blind);
    }
    const words = textTokens(message.text);
    if (words.length === 0) continue;
    const wordTokens = words.map(blind.word);
    const distinct = new Set(wordTokens);
    const prefixes: string[] = [];
    for (const start of prefixTokens(words)) {
      const token = blind.prefix(start);
      if (!distinct.has(token)) {
        if (distinct.size >= maxTokensPerEntry) break;
        distinct.add(token);
      }
      prefixes.push(token);
    }
    entries.push({ message, tokens: [...wordTokens, ...prefixes.sort()] });
  }
  return entries;
}

/**
 * A query as blind tokens, one entry per term (several tokens: a phrase); a prefix is looked up by the
 * token of its first 10 characters.
 */
export async function blindQuery(
  hasher: SearchTokenHasher,
  tx: TenantTx,
  request: SearchRequest,
): Promise<string[][]> {
  const word = await hasher.forTenant(tx, request.tenantId, 'word');
  const prefix = await hasher.forTenant(tx, request.tenantId, 'prefix');
  return [
    ...request.query.terms.map((term) => term.map(word)),
    ...request.query.prefixes.map((start) => [prefix(indexedPrefix(start))]),
  ];
}

/** A row of either engine's result, before the cursor and limit are applied. */
export interface RawHit {
  message_id: string;
  dialog_id: string;
  created_at: number | string;
  score: number | string;
}

/**
 * The visibility rules, over the aliases both engines use: `msg` (messages), `d` (dialogs), `m` (the
 * caller's dialog_members row, joined by the caller's id). Every table is filtered by the tenant too, so
 * SQLite (which has no row-level security) cannot reach across tenants even through a bad join.
 */
export function visibleTo(request: SearchRequest): RawBuilder<unknown> {
  const { tenantId, dialogId } = request;
  return sql`msg.tenant_id = ${tenantId} and d.tenant_id = ${tenantId} and m.tenant_id = ${tenantId}
    and m.left_at is null and d.deleted_at is null and msg.deleted_at is null
    and msg.seq > m.cleared_seq and (d.hide_history = 0 or msg.seq > m.joined_seq)
    and not exists (select 1 from hidden_messages h
      where h.tenant_id = ${tenantId} and h.message_id = msg.id and h.user_id = ${request.userId})
    ${dialogId === undefined ? sql`` : sql`and msg.dialog_id = ${dialogId}`}`;
}

/**
 * The joins `visibleTo` needs, from a `msg` row. SQLite passes `cross join`, which there fixes the join order
 * (matches first, then one primary-key lookup each), whatever its statistics say.
 */
export function visibilityJoins(request: SearchRequest, join = sql`join`): RawBuilder<unknown> {
  return sql`${join} dialogs d on d.id = msg.dialog_id
    ${join} dialog_members m on m.dialog_id = msg.dialog_id and m.user_id = ${request.userId}`;
}

/** Wraps an engine's ranked query: applies the cursor, the order (best, newest, id) and the limit. */
export async function pageOf(
  tx: TenantTx,
  request: SearchRequest,
  ranked: RawBuilder<RawHit>,
): Promise<SearchHit[]> {
  const after = request.after;
  const keyset =
    after === undefined
      ? sql`1 = 1`
      : sql`(score < ${after.score} or (score = ${after.score} and (created_at < ${after.createdAt}
          or (created_at = ${after.createdAt} and message_id < ${after.messageId}))))`;
  const { rows } = await sql<RawHit>`select message_id, dialog_id, created_at, score from (${ranked}) hits
    where ${keyset}
    order by score desc, created_at desc, message_id desc
    limit ${request.limit}`.execute(tx);
  return rows.map((row) => ({
    messageId: row.message_id,
    dialogId: row.dialog_id,
    createdAt: Number(row.created_at),
    score: Number(row.score),
  }));
}
