import { bearer } from './identity-fixtures.ts';
import { must, type Moment } from './history-operations.ts';

/** A search whose matches grow with history; `words` is how many distinct words (index tokens) it names. */
export interface CommonWordSearch {
  name: string;
  words: number;
  run: (m: Moment) => Promise<unknown>;
}

const search = (what: string, q: string, words: number): CommonWordSearch => ({
  name: `search: ${what}`,
  words,
  run: (m) =>
    must(m.server, `/v1/search/messages?${new URLSearchParams({ q }).toString()}`, bearer(m.scene.bob.token)),
});

/**
 * Searches for what every grown message holds (history-growth.ts writes `note <n> <word> <word>`), so their
 * matches grow with history: about 2,200 at size 1 and 22,000 at ten times, most of them in other people's
 * dialogs, which the searcher may not see and which were grown last (so they are the newest). A search that
 * reads every match, or checks every one for visibility, touches rows in proportion to the history.
 */
export const commonWordSearches: CommonWordSearch[] = [
  search('a word in every message', 'note', 1),
  search('two words, one in every message', 'note coffee', 2),
  search('a prefix of a word in every message', 'not*', 1),
  search('a phrase with a word in every message', '"note 5"', 2),
];
