import { maxSearchCandidates } from '@parley/protocol';
import { type RawBuilder, sql } from 'kysely';
import { AppError } from '../../app-error.ts';
import type { TenantTx } from '../../storage/database.ts';
import type { IndexedMessage, MessageIndex } from '../message-index.ts';
import type { BlindTokenFn, SearchTokenHasher } from './search-token-hasher.ts';
import {
  indexedPrefix,
  type ParsedQuery,
  prefixTokens,
  textTokens,
  tokenLength,
  walkedPrefix,
  walkedPrefixLengths,
} from './search-tokens.ts';

const walkedLengths = new Set(walkedPrefixLengths);

/**
 * A place in the index's newest-first order: the engine's own key of a message's entry (PostgreSQL: the
 * message id, a UUIDv7, so time-ordered; SQLite: the FTS5 row id, given in indexing order and kept by edits).
 * Opaque to everything but the engine that gave it; the next page starts strictly after it.
 */
export type SearchPosition = string;

/**
 * At most this many candidates (entries that hold every word of the query, on PostgreSQL every walked
 * token) are examined per request, each checked for visibility one by one, so a search's cost does not grow
 * with history. A page of recent matches is usually found among the first few dozen; the cap matters when
 * most of the newest matches are hidden from the caller (other people's dialogs), and then bounds the request
 * to 2,000 × (a probe or two per query word and four primary-key lookups). Measured on 150,000 messages with
 * none of the newest 2,000 matches visible, on 2 cores shared with other work: SQLite 6 ms (p50 of the
 * request), PostgreSQL 35 ms (the statement under EXPLAIN ANALYZE). A lower cap sends clients back more often
 * when matches are sparse; a higher one makes that worst case dearer in proportion. When the cap is reached
 * before the page is full, the page is returned as it is, with a position after the last candidate examined.
 */
export const maxCandidates = maxSearchCandidates;

export interface SearchRequest {
  tenantId: string;
  /** Only messages this user may see now are found. */
  userId: string;
  /** Search one dialog instead of all of the user's dialogs. */
  dialogId?: string | undefined;
  query: ParsedQuery;
  limit: number;
  /** Resume strictly after this position (a previous page's `next`). */
  after?: SearchPosition | undefined;
}

export interface SearchHit {
  messageId: string;
  dialogId: string;
}

/** A page of hits, newest first, and where the next page starts. */
export interface SearchPage {
  hits: SearchHit[];
  /**
   * Absent when the walk reached the oldest entry. Otherwise the last hit of a full page, or, when the walk
   * stopped at `maxCandidates` first, the last candidate examined (so a page may be short, even empty, and
   * still have a next one).
   */
  next?: SearchPosition;
}

/**
 * The message index with its query side: a dialect's full-text engine over blind tokens. `find` walks the
 * entries that hold every query word from the newest down, stops after `maxCandidates` or a full page, and
 * returns only messages the user may see — member now (not left), the dialog not deleted, the message neither
 * deleted nor hidden by this user ("delete for me"), after the member's cleared history, and after their
 * joining when the dialog hides earlier history.
 */
export interface SearchIndex extends MessageIndex {
  find(tx: TenantTx, request: SearchRequest): Promise<SearchPage>;
}

/** A cursor whose position this engine could not have given. */
export const invalidCursor = () => new AppError('validation_failed', 'The cursor is not valid.');

/**
 * A message to index with its document: the blind tokens of its words in order (repeats kept: phrases need
 * their positions), then the blind tokens of their beginnings, sorted by token, so their order tells nothing
 * about which word each came from. Phrases cannot reach into the beginnings: their tokens differ.
 */
export interface BlindEntry {
  message: IndexedMessage;
  tokens: string[];
  /**
   * With `walked` asked for: the distinct tokens a walk may seek by — every word, and the beginnings of the
   * lengths in `walkedPrefixLengths` only.
   */
  walked?: string[];
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
  options: { walked?: boolean } = {},
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
    const walked = options.walked === true ? new Set(wordTokens) : undefined;
    const prefixes: string[] = [];
    for (const start of prefixTokens(words)) {
      const token = blind.prefix(start);
      if (!distinct.has(token)) {
        if (distinct.size >= maxTokensPerEntry) break;
        distinct.add(token);
      }
      prefixes.push(token);
      if (walked !== undefined && walkedLengths.has(tokenLength(start))) walked.add(token);
    }
    const tokens = [...wordTokens, ...prefixes.sort()];
    entries.push(walked === undefined ? { message, tokens } : { message, tokens, walked: [...walked] });
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

/**
 * The blind tokens a walk over `BlindEntry.walked` seeks by, most selective kinds first: the query's words,
 * then each prefix cut to a walked length (`walkedPrefix`). Distinct, in that order.
 */
export async function blindWalkTokens(
  hasher: SearchTokenHasher,
  tx: TenantTx,
  request: SearchRequest,
): Promise<string[]> {
  const word = await hasher.forTenant(tx, request.tenantId, 'word');
  const prefix = await hasher.forTenant(tx, request.tenantId, 'prefix');
  return [
    ...new Set([
      ...request.query.terms.flat().map(word),
      ...request.query.prefixes.map((start) => prefix(walkedPrefix(indexedPrefix(start)))),
    ]),
  ];
}

/**
 * The visibility rules for one candidate, over a `msg` row (messages): the caller a member now (not left),
 * the message not deleted and after their cleared history, the dialog not deleted (and, when it hides
 * earlier history, the message after they joined), not hidden by them ("delete for me"). Written as nested
 * EXISTS, each a primary-key lookup, so a candidate from a dialog the caller is not in (the usual reason to
 * skip one) costs its membership lookup and stops there. `fence` is PostgreSQL's `offset 0`, which keeps it
 * from turning an EXISTS into a join it would then plan for the table's size (a small `dialogs` table was
 * hashed whole for every candidate); SQLite runs correlated subqueries as written. Every table is filtered
 * by the tenant too, so SQLite (which has no row-level security) cannot reach across tenants.
 */
export function visibleTo(request: SearchRequest, fence: RawBuilder<unknown> = sql``): RawBuilder<unknown> {
  const { tenantId, userId, dialogId } = request;
  return sql`msg.tenant_id = ${tenantId} and msg.deleted_at is null
    ${dialogId === undefined ? sql`` : sql`and msg.dialog_id = ${dialogId}`}
    and exists (select 1 from dialog_members m
      where m.tenant_id = ${tenantId} and m.dialog_id = msg.dialog_id and m.user_id = ${userId}
        and m.left_at is null and msg.seq > m.cleared_seq
        and exists (select 1 from dialogs d
          where d.tenant_id = ${tenantId} and d.id = msg.dialog_id and d.deleted_at is null
            and (d.hide_history = 0 or msg.seq > m.joined_seq) ${fence})
      ${fence})
    and not exists (select 1 from hidden_messages h
      where h.tenant_id = ${tenantId} and h.message_id = msg.id and h.user_id = ${userId} ${fence})`;
}

/**
 * The page from an engine's walk: `found` are the visible hits in walk order, at most `limit + 1` (one more
 * than a page says that more exist); `stoppedAt` is the last candidate examined when the walk stopped at
 * `maxCandidates`, undefined when it reached the oldest entry.
 */
export function pageOf(
  request: SearchRequest,
  found: readonly (SearchHit & { position: SearchPosition })[],
  stoppedAt: SearchPosition | undefined,
): SearchPage {
  const hits = found.slice(0, request.limit).map(({ messageId, dialogId }) => ({ messageId, dialogId }));
  const next = found.length > request.limit ? found[request.limit - 1]?.position : stoppedAt;
  return next === undefined ? { hits } : { hits, next };
}
