import { type WordRun, wordRuns } from './search-tokens.ts';

/** `[start, end)` in UTF-16 code units (JavaScript string indexes) of the snippet. */
export interface Highlight {
  start: number;
  end: number;
}

export interface Snippet {
  text: string;
  highlights: Highlight[];
}

const snippetLength = 160;
/** How much text comes before the first hit, when there is that much. */
const leadIn = 40;
const ellipsis = '…';

/** Whether a word of the text is one the query asked for, or begins with one of its prefixes. */
export const matchesQuery = (run: WordRun, wanted: ReadonlySet<string>, prefixes: readonly string[]) =>
  run.tokens.some((token) => wanted.has(token) || prefixes.some((prefix) => token.startsWith(prefix)));

/** Moves an index off the second half of a surrogate pair, so no character is cut in two. */
function safeIndex(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code >= 0xdc00 && code <= 0xdfff ? index - 1 : index;
}

/**
 * About 160 characters of `text` around the first word that matches a query token or begins with a query
 * prefix, cut at word boundaries, with `…` where text was left out, and the ranges of every matching word in
 * it, whole (plain offsets, not markup: the client decides how to show them). A text without a match gives
 * its beginning.
 */
export function buildSnippet(
  text: string,
  wanted: ReadonlySet<string>,
  prefixes: readonly string[] = [],
): Snippet {
  const runs = wordRuns(text);
  const first = runs.find((run) => matchesQuery(run, wanted, prefixes));
  let start = 0;
  if (first && text.length > snippetLength) {
    const earliest = Math.max(0, Math.min(first.start - leadIn, text.length - snippetLength));
    start =
      earliest === 0
        ? 0
        : (runs.find((run) => run.start >= earliest && run.start <= first.start)?.start ?? first.start);
  }
  let end = Math.min(text.length, start + snippetLength);
  if (end < text.length) {
    const lastWhole = runs.filter((run) => run.start >= start && run.end <= end).at(-1);
    if (lastWhole && (!first || lastWhole.end >= first.end)) end = lastWhole.end;
    end = safeIndex(text, end);
  }
  const prefix = start > 0 ? ellipsis : '';
  const body = text.slice(start, end);
  const highlights = runs
    .filter((run) => matchesQuery(run, wanted, prefixes) && run.end > start && run.start < end)
    .map((run) => ({
      start: prefix.length + Math.max(run.start, start) - start,
      end: prefix.length + Math.min(run.end, end) - start,
    }));
  return { text: prefix + body + (end < text.length ? ellipsis : ''), highlights };
}
