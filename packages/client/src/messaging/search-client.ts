import type { SearchMessagesResponse, SearchResult } from '@parley/protocol';
import type { Requester } from '../account-client.ts';
import { itemsOf } from '../rest/cursor-pages.ts';
import { withQuery } from '../rest/rest-path.ts';

/**
 * `GET /v1/search/messages`: all words must occur (whole words, any case and accents); a part in double
 * quotes is a phrase; a word directly followed by `*` (at least 3 characters: `caf*`) matches the words that
 * begin with it. `dialogId` narrows to one dialog; `limit` is 1 to 50 (20 when absent); `cursor` is the
 * previous page's `nextCursor`.
 */
export interface SearchQuery {
  q: string;
  dialogId?: string;
  limit?: number;
  cursor?: string;
}

/** Message search over the dialogs the caller may see. */
export class SearchClient {
  readonly #rest: Requester;

  constructor(rest: Requester) {
    this.#rest = rest;
  }

  /**
   * One page of results, newest first, each with a snippet and highlight ranges. A search examines a bounded
   * number of candidates per request (`maxSearchCandidates`), so a page can hold fewer than `limit` results,
   * even none, and still have a `nextCursor`: ask again with it to search further back.
   */
  messages(query: SearchQuery): Promise<SearchMessagesResponse> {
    return this.#rest.request<SearchMessagesResponse>('GET', withQuery('/v1/search/messages', { ...query }));
  }

  /** Every result, newest first, fetching further pages (short or empty ones too) as the loop reads on. */
  allMessages(query: SearchQuery): AsyncGenerator<SearchResult, void, undefined> {
    return itemsOf(
      (cursor) => this.messages({ ...query, cursor }),
      (page) => page.results,
      query.cursor,
    );
  }
}
