import type { SearchMessagesResponse, SearchResult } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import type { Storage } from '../../storage/database.ts';
import type { MessageAttachments } from '../message-attachments.ts';
import { presentMessages } from '../message-presenter.ts';
import { invalidCursor, type SearchIndex, type SearchPosition } from './search-index.ts';
import { relevanceOf } from './search-relevance.ts';
import { buildSnippet } from './search-snippet.ts';
import { searchStore } from './search-store.ts';
import { indexedPrefix, minPrefixLength, parseQuery, queryTokens, tokenLength } from './search-tokens.ts';

/** More terms (words, phrases and prefixes) than this cost much and find little. */
export const maxSearchTerms = 16;

export interface SearchInput {
  q: string;
  dialogId?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

/**
 * Message search. The index finds what the caller may see (it holds only blind tokens), newest first, and
 * examines a bounded number of candidates per request; the page's bodies are then opened here, once, to
 * present each message, cut its snippet and score it. The cursor is the index's position where the page
 * ended (its last result, or the last candidate examined when the cap came first), so paging on yields
 * every match exactly once.
 */
export function createSearchService(deps: {
  storage: Storage;
  index: SearchIndex;
  fieldCipher: FieldCipher;
  attachments: MessageAttachments;
}) {
  const { storage, index } = deps;
  return {
    async search(tenantId: string, userId: string, input: SearchInput): Promise<SearchMessagesResponse> {
      const query = parseQuery(input.q);
      if (query.prefixes.some((prefix) => tokenLength(prefix) < minPrefixLength))
        throw new AppError(
          'validation_failed',
          `A prefix search (a word ending in *) needs at least ${minPrefixLength} characters before the *.`,
        );
      if (query.terms.length + query.prefixes.length === 0)
        throw new AppError('validation_failed', 'The query has no words to search for.');
      if (query.terms.length + query.prefixes.length > maxSearchTerms)
        throw new AppError('validation_failed', `At most ${maxSearchTerms} search terms.`);
      const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
      return storage.withTenant(tenantId, async (tx) => {
        const page = await index.find(tx, {
          tenantId,
          userId,
          dialogId: input.dialogId,
          query,
          limit: input.limit,
          after,
        });
        const rows = await searchStore.messagesByIds(
          tx,
          tenantId,
          page.hits.map((hit) => hit.messageId),
        );
        const messages = new Map(
          (await presentMessages(tx, deps, tenantId, rows)).map((message) => [message.id, message]),
        );
        const wanted = queryTokens(query);
        // What the index matched on (a longer prefix matches on its first 10 characters): every result then
        // highlights the words that made it match.
        const prefixes = query.prefixes.map(indexedPrefix);
        const results: SearchResult[] = [];
        for (const hit of page.hits) {
          const message = messages.get(hit.messageId);
          if (!message) continue;
          const body = message.body ?? '';
          const snippet = buildSnippet(body, wanted, prefixes);
          results.push({
            message,
            dialogId: hit.dialogId,
            score: relevanceOf(body, wanted, prefixes),
            snippet: snippet.text,
            highlights: snippet.highlights,
          });
        }
        return {
          results,
          ...(page.next === undefined ? {} : { nextCursor: encodeCursor(page.next) }),
        };
      });
    },
  };
}

export type SearchService = ReturnType<typeof createSearchService>;

/** A cursor is the index's position as a one-element JSON array, base64url: opaque, and checked on return. */
function encodeCursor(position: SearchPosition): string {
  return Buffer.from(JSON.stringify([position])).toString('base64url');
}

function decodeCursor(cursor: string): SearchPosition {
  try {
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(decoded) && decoded.length === 1 && typeof decoded[0] === 'string') return decoded[0];
  } catch {
    // fall through
  }
  throw invalidCursor();
}
