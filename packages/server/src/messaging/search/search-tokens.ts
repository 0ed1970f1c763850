/**
 * How message text becomes search words, the same way for what is indexed and for what is asked. A word is
 * a run of letters, digits and combining marks in the original text (so offsets into it are known, for
 * snippets); its normal form is NFKC, case-folded, without diacritics. Whole words match, and a query word
 * ending in `*` matches words that begin with it: the index holds keyed hashes of whole words and of their
 * beginnings of 3 to 10 characters (see search-token-hasher.ts); there is no substring or fuzzy search.
 */

/** A word of the original text: `[start, end)` in UTF-16 code units, and the normalised tokens it gives. */
export interface WordRun {
  start: number;
  end: number;
  tokens: string[];
}

/**
 * What a query asks for: every entry must match. An entry of `terms` of several tokens is a phrase (in that
 * order); an entry of `prefixes` matches any word that begins with it (as asked, before any length check).
 */
export interface ParsedQuery {
  terms: string[][];
  prefixes: string[];
}

/** A prefix term needs at least this many characters: shorter ones would match most messages. */
export const minPrefixLength = 3;
/** Beginnings of words are indexed up to this many characters; a longer prefix is matched on these. */
export const maxPrefixLength = 10;

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

/** A word of ASCII letters and digits: its normal form is itself lower-cased (NFKC and NFD leave ASCII be). */
const asciiWord = /^[A-Za-z0-9]+$/;
/** UTF-16 surrogates: a string without them has one code unit per character. */
const surrogate = /[\uD800-\uDFFF]/;

/** The tokens one word of the original text gives (usually one; `½` gives two, `1` and `2`). */
export function wordTokens(word: string): string[] {
  // Most words of most messages: skip the four Unicode normalisations, which give the same result here.
  if (asciiWord.test(word)) return [word.toLowerCase()];
  return normaliseText(word)
    .split(nonWord)
    .filter((token) => token.length > 0);
}

/** Every word of `text` with its position and tokens, in order. */
export function wordRuns(text: string): WordRun[] {
  const runs: WordRun[] = [];
  let start = -1;
  let index = 0;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    // ASCII (most characters of most messages) is told apart by its code, without a string per character.
    const next = text.charCodeAt(index + 1); // NaN past the end: no pair
    const width = code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
    const inWord = code < 0x80 ? asciiWordCode(code) : isWordChar(text.slice(index, index + width));
    if (inWord) {
      if (start === -1) start = index;
    } else if (start !== -1) {
      pushRun(runs, text, start, index);
      start = -1;
    }
    index += width;
  }
  if (start !== -1) pushRun(runs, text, start, index);
  return runs;
}

/** `[A-Za-z0-9]` by character code. */
const asciiWordCode = (code: number): boolean =>
  (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);

function pushRun(runs: WordRun[], text: string, start: number, end: number): void {
  const tokens = wordTokens(text.slice(start, end));
  if (tokens.length > 0) runs.push({ start, end, tokens });
}

/** The tokens of a text, in order, repeats kept (their positions make phrases and ranking work). */
export function textTokens(text: string): string[] {
  return wordRuns(text).flatMap((run) => run.tokens);
}

/** How many characters (code points) a token has. */
export const tokenLength = (token: string): number => Array.from(token).length;

/** The first `length` characters (code points) of a token. */
const firstChars = (token: string, length: number) => Array.from(token).slice(0, length).join('');

/**
 * The beginnings a text's tokens are indexed under: for each token (each occurrence, so repeated words weigh
 * more), its first 3, 4, … up to 10 characters, itself included when it is that short.
 */
export function prefixTokens(tokens: readonly string[]): string[] {
  const prefixes: string[] = [];
  for (const token of tokens) {
    // Without surrogates a character is a code unit, and `slice` cuts at characters (the common case).
    const characters = surrogate.test(token) ? Array.from(token) : token;
    const longest = Math.min(characters.length, maxPrefixLength);
    for (let length = minPrefixLength; length <= longest; length += 1)
      prefixes.push(
        typeof characters === 'string' ? characters.slice(0, length) : characters.slice(0, length).join(''),
      );
  }
  return prefixes;
}

/** The indexed beginning a query prefix is looked up by: its first 10 characters. */
export const indexedPrefix = (prefix: string): string => firstChars(prefix, maxPrefixLength);

/**
 * The lengths of beginnings an engine that finds candidates by walking one posting list per token needs
 * (PostgreSQL's term rows): a query prefix walks the longest of these it reaches, and the candidates are
 * then matched against the whole entry, which holds every length from 3 to 10. Three lengths instead of
 * eight: the rows written per message fall by about half, and a walked beginning is at most a few
 * characters shorter than the one asked for.
 */
export const walkedPrefixLengths: readonly number[] = [3, 5, 8];

/** The beginning a query prefix walks: cut to the longest of `walkedPrefixLengths` it reaches. */
export function walkedPrefix(prefix: string): string {
  const length = tokenLength(prefix);
  const cut = walkedPrefixLengths.filter((walked) => walked <= length).at(-1) ?? length;
  return firstChars(prefix, cut);
}

/**
 * Reads a query: words outside double quotes are separate terms; a word directly followed by `*` outside
 * quotes is a prefix; a quoted part is a phrase (a `*` in it is a separator, as any punctuation). An unclosed
 * quote counts as words. Repeated terms are asked once.
 */
export function parseQuery(query: string): ParsedQuery {
  const terms: string[][] = [];
  const prefixes: string[] = [];
  const seen = new Set<string>();
  const add = (tokens: string[]) => {
    const key = tokens.join(' ');
    if (tokens.length === 0 || seen.has(key)) return;
    seen.add(key);
    terms.push(tokens);
  };
  const addPrefix = (prefix: string) => {
    if (!prefixes.includes(prefix)) prefixes.push(prefix);
  };
  const parts = query.split('"');
  parts.forEach((part, index) => {
    const quoted = index % 2 === 1 && index < parts.length - 1;
    if (quoted) {
      add(textTokens(part));
      return;
    }
    for (const run of wordRuns(part)) {
      // A word whose normal form has several tokens (`½`): the last one is the prefix.
      const last = part[run.end] === '*' ? run.tokens.at(-1) : undefined;
      for (const token of last === undefined ? run.tokens : run.tokens.slice(0, -1)) add([token]);
      if (last !== undefined) addPrefix(last);
    }
  });
  return { terms, prefixes };
}

/** Every distinct token a query names, for highlighting. */
export function queryTokens(query: ParsedQuery): Set<string> {
  return new Set(query.terms.flat());
}
