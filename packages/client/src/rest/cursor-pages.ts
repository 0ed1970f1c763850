/** One page of a cursor-paginated list; `nextCursor` is absent on the last page. */
export interface CursorPage {
  nextCursor?: string | undefined;
}

/** Where a listing starts and how many items each request asks for. */
export interface PageOptions {
  /** Items per request (the route's default when absent). */
  limit?: number;
  /** `nextCursor` of an earlier page, to resume there. */
  cursor?: string;
}

/**
 * Every item of a cursor-paginated list, fetching the next page only when the caller reads past the current
 * one; `break` stops without another request.
 */
export async function* itemsOf<P extends CursorPage, T>(
  fetchPage: (cursor: string | undefined) => Promise<P>,
  itemsIn: (page: P) => readonly T[],
  startCursor?: string,
): AsyncGenerator<T, void, undefined> {
  let cursor = startCursor;
  do {
    const page = await fetchPage(cursor);
    yield* itemsIn(page);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
}
