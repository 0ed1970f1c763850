import { matchesQuery } from './search-snippet.ts';
import { wordRuns } from './search-tokens.ts';

/**
 * How well a result's text matches, for information only (results come newest first): the words that match
 * the query, divided by 1 + the natural log of the text's word count (as PostgreSQL's `ts_rank` normalises
 * by length), so more matches rank higher and a long text's matches weigh less. Computed from the page's
 * opened bodies, the same on both dialects, at no cost to the index: corpus statistics such as bm25's would
 * read every entry of the words.
 */
export function relevanceOf(text: string, wanted: ReadonlySet<string>, prefixes: readonly string[]): number {
  const runs = wordRuns(text);
  const matching = runs.filter((run) => matchesQuery(run, wanted, prefixes)).length;
  return runs.length === 0 ? 0 : matching / (1 + Math.log(runs.length));
}
