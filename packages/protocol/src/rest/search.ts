import { z } from 'zod';
import { messageBody } from './dialogs.ts';

/**
 * `GET /v1/search/messages`: whole-word search over the messages the caller may see, newest first. All terms
 * must occur; a part in double quotes is a phrase; a word directly followed by `*` (outside quotes, at least
 * 3 characters: `caf*`) matches words that begin with it (a longer prefix than 10 characters matches on its
 * first 10). Words match regardless of case, accents and compatibility forms (`É` = `e`, `ﬁ` = `fi`); there
 * is no substring or fuzzy matching (see docs/security.md, "Message search").
 */
export const searchMessagesQuery = z
  .object({
    q: z.string().min(1).max(256),
    /** Search only this dialog. A dialog the caller is not a member of gives no results. */
    dialogId: z.uuid().optional(),
    limit: z.coerce.number().int().min(1).max(50).default(20),
    /** `nextCursor` of the previous page. */
    cursor: z.string().max(300).optional(),
  })
  .strict();
export type SearchMessagesQuery = z.infer<typeof searchMessagesQuery>;

/** A matching word in the snippet: `[start, end)` in UTF-16 code units (JavaScript string indexes). */
export const searchHighlight = z
  .object({ start: z.number().int(), end: z.number().int() })
  .meta({ id: 'SearchHighlight' });
export type SearchHighlight = z.infer<typeof searchHighlight>;

export const searchResult = z
  .object({
    message: messageBody,
    dialogId: z.string(),
    /**
     * How well the message matches, for information (results are not ordered by it): the words that match,
     * normalised by the message's length; higher is better, comparable only within one result list.
     */
    score: z.number(),
    /** About 160 characters of the body around the first match, `…` where text was left out. */
    snippet: z.string(),
    highlights: z.array(searchHighlight),
  })
  .meta({ id: 'SearchResult' });
export type SearchResult = z.infer<typeof searchResult>;

/**
 * How many candidate messages (those holding every word of the query, visible to the caller or not) one
 * search request examines at most, newest first.
 */
export const maxSearchCandidates = 2_000;

/**
 * Newest first. A search examines at most `maxSearchCandidates` (2,000) candidates per request, so its cost
 * does not grow with history: when that many were examined before the page was full, the page holds what
 * was found among them — fewer than `limit` results, possibly none — and still has a `nextCursor`. Keep
 * asking with it to search further back; paging on yields every match exactly once.
 */
export const searchMessagesResponse = z
  .object({
    results: z.array(searchResult),
    /**
     * Where to resume (opaque): after the last result of a full page, or after the last candidate examined
     * when the search stopped at its limit. Absent once the oldest match has been passed.
     */
    nextCursor: z.string().optional(),
  })
  .meta({ id: 'SearchMessagesResponse' });
export type SearchMessagesResponse = z.infer<typeof searchMessagesResponse>;
