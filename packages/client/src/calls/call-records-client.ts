import type { callHistoryPage, CallRecord } from '@parley/protocol';
import type { Requester } from '../account-client.ts';
import { itemsOf, type PageOptions } from '../rest/cursor-pages.ts';
import { path, withQuery } from '../rest/rest-path.ts';
import type { OutputOf } from '../rest/schema-types.ts';

/** One page of call records, newest first; `nextCursor` is absent on the last page. */
export type CallRecordPage = OutputOf<typeof callHistoryPage>;

/** Call records over REST (needs the `calls` scope); the calls themselves run through `client.calls`. */
export class CallRecordsClient {
  readonly #rest: Requester;

  constructor(rest: Requester) {
    this.#rest = rest;
  }

  /** One page of the caller's calls: participants, media, times, outcome and duration. */
  mine(options: PageOptions = {}): Promise<CallRecordPage> {
    return this.#rest.request<CallRecordPage>('GET', withQuery('/v1/calls', { ...options }));
  }

  /** One page of the calls made in a dialog the caller is a member of. */
  ofDialog(dialogId: string, options: PageOptions = {}): Promise<CallRecordPage> {
    return this.#rest.request<CallRecordPage>(
      'GET',
      withQuery(path`/v1/dialogs/${dialogId}/calls`, { ...options }),
    );
  }

  /** Every call of the caller, newest first, fetching pages as the loop reads on. */
  allMine(options: PageOptions = {}): AsyncGenerator<CallRecord, void, undefined> {
    return itemsOf(
      (cursor) => this.mine({ limit: options.limit, cursor }),
      (page) => page.calls,
      options.cursor,
    );
  }

  /** Every call made in a dialog, newest first. */
  allOfDialog(dialogId: string, options: PageOptions = {}): AsyncGenerator<CallRecord, void, undefined> {
    return itemsOf(
      (cursor) => this.ofDialog(dialogId, { limit: options.limit, cursor }),
      (page) => page.calls,
      options.cursor,
    );
  }
}
