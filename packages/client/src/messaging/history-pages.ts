import type { HistoryPage } from '@parley/protocol';

export type { HistoryPage };

/**
 * Where a history page starts; one of `before`/`after` (both: the window between), `around` or `at`.
 * `limit` is 1 to 200 (50 when absent).
 */
export type HistoryQuery = { limit?: number } & (
  | { before?: number; after?: number; around?: never; at?: never }
  | { around: string; before?: never; after?: never; at?: never }
  | { at: Date | string; before?: never; after?: never; around?: never }
);

/**
 * History pages walked in one direction until a window comes back empty: `before` goes back in time from
 * `start` (the newest page when undefined), `after` forward from `start`. Pages whose every message is
 * hidden for the caller are skipped, not ended on.
 */
export async function* historyPages(
  fetchPage: (query: HistoryQuery) => Promise<HistoryPage>,
  direction: 'before' | 'after',
  start: number | undefined,
  limit: number | undefined,
): AsyncGenerator<HistoryPage, void, undefined> {
  let position = start;
  for (;;) {
    const page = await fetchPage(
      direction === 'before' ? { limit, before: position } : { limit, after: position },
    );
    const next = direction === 'before' ? page.oldestSeq : page.newestSeq;
    if (next === null) return;
    if (page.messages.length > 0) yield page;
    // Seq 1 is the first message any dialog can have: nothing is older.
    if (direction === 'before' && next <= 1) return;
    position = next;
  }
}
