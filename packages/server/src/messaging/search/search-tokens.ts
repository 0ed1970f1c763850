/**
 * How message text becomes search words, the same way for what is indexed and for what is asked. A word is
 * a run of letters, digits and combining marks in the original text (so offsets into it are known, for
 * snippets); its normal form is NFKC, case-folded, without diacritics. Only whole words match: there is no
 * prefix or substring search, because the index holds keyed hashes of whole words (see search-token-hasher.ts).
 */

/** A word of the original text: `[start, end)` in UTF-16 code units, and the normalised tokens it gives. */
export interface WordRun {
  start: number;
  end: number;
  tokens: string[];
}

/** What a query asks for: every entry must match; an entry of several tokens is a phrase (in that order). */
export interface ParsedQuery {
  terms: string[][];
}

const wordChar = /[\p{L}\p{N}\p{M}]/u;
const nonWord = /[^\p{L}\p{N}]+/u;
const marks = /\p{M}+/gu;
const asciiWordChar = /[A-Za-z0-9]/;
const wordCharCache = new Map<number, boolean>();

/**
 * A character belongs to a word when it is a letter, digit or mark, or when its compatibility form has one
 * (`™`, `½`, `①`): so what NFKC would turn into letters is not lost between words.
 */
function isWordChar(char: string): boolean {
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x80) return asciiWordChar.test(char);
  let known = wordCharCache.get(code);
  if (known === undefined) {
    known = wordChar.test(char) || wordChar.test(char.normalize('NFKC'));
    if (wordCharCache.size < 65_536) wordCharCache.set(code, known);
  }
  return known;
}

/**
 * The matching form of a piece of text: compatibility characters unified (NFKC), case folded (upper then
 * lower: `ß` → `ss`, final `ς` → `σ`), diacritics removed (NFD, marks dropped), recomposed. Applied until
 * it stops changing, so it is idempotent even for the rare characters one round does not settle.
 */
export function normaliseText(text: string): string {
  let current = text;
  for (let round = 0; round < 4; round += 1) {
    const next = current
      .normalize('NFKC')
      .toUpperCase()
      .toLowerCase()
      .normalize('NFD')
      .replace(marks, '')
      .normalize('NFKC');
    if (next === current) return next;
    current = next;
  }
  return current;
}

/** The tokens one word of the original text gives (usually one; `½` gives two, `1` and `2`). */
export function wordTokens(word: string): string[] {
  return normaliseText(word)
    .split(nonWord)
    .filter((token) => token.length > 0);
}

/** Every word of `text` with its position and tokens, in order. */
export function wordRuns(text: string): WordRun[] {
  const runs: WordRun[] = [];
  let start = -1;
  let index = 0;
  for (const char of text) {
    if (isWordChar(char)) {
      if (start === -1) start = index;
    } else if (start !== -1) {
      pushRun(runs, text, start, index);
      start = -1;
    }
    index += char.length;
  }
  if (start !== -1) pushRun(runs, text, start, index);
  return runs;
}

function pushRun(runs: WordRun[], text: string, start: number, end: number): void {
  const tokens = wordTokens(text.slice(start, end));
  if (tokens.length > 0) runs.push({ start, end, tokens });
}

/** The tokens of a text, in order, repeats kept (their positions make phrases and ranking work). */
export function textTokens(text: string): string[] {
  return wordRuns(text).flatMap((run) => run.tokens);
}

/**
 * Reads a query: words outside double quotes are separate terms; a quoted part is a phrase. An unclosed
 * quote counts as words. Repeated terms are asked once.
 */
export function parseQuery(query: string): ParsedQuery {
  const terms: string[][] = [];
  const seen = new Set<string>();
  const add = (tokens: string[]) => {
    const key = tokens.join(' ');
    if (tokens.length === 0 || seen.has(key)) return;
    seen.add(key);
    terms.push(tokens);
  };
  const parts = query.split('"');
  parts.forEach((part, index) => {
    const quoted = index % 2 === 1 && index < parts.length - 1;
    if (quoted) add(textTokens(part));
    else for (const token of textTokens(part)) add([token]);
  });
  return { terms };
}

/** Every distinct token a query names, for highlighting. */
export function queryTokens(query: ParsedQuery): Set<string> {
  return new Set(query.terms.flat());
}
