import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tsvectorLiteral } from '../../src/messaging/search/postgres-search-index.ts';
import { buildSnippet } from '../../src/messaging/search/search-snippet.ts';
import {
  indexedPrefix,
  normaliseText,
  parseQuery,
  prefixTokens,
  queryTokens,
  textTokens,
  wordRuns,
} from '../../src/messaging/search/search-tokens.ts';

/** The word a highlight range points at. */
const highlighted = (snippet: { text: string; highlights: { start: number; end: number }[] }) =>
  snippet.highlights.map((range) => snippet.text.slice(range.start, range.end));

describe('search tokens', () => {
  it('matches words regardless of case, accents and compatibility forms', () => {
    expect(textTokens('Le CAFÉ de Zoë, ﬁnally: STRASSE Straße İstanbul ①')).toEqual([
      'le',
      'cafe',
      'de',
      'zoe',
      'finally',
      'strasse',
      'strasse',
      'istanbul',
      '1',
    ]);
    // Decomposed input (e + combining acute) gives the same token as the composed one.
    expect(textTokens('cafe\u0301')).toEqual(textTokens('café'));
  });

  it('splits on everything that is not a letter, digit or mark', () => {
    expect(textTokens("re-check: it's 9:30 (room #12)…")).toEqual([
      're',
      'check',
      'it',
      's',
      '9',
      '30',
      'room',
      '12',
    ]);
    expect(textTokens('  !!! ... ')).toEqual([]);
  });

  it('reads quoted parts as phrases and asks each term once', () => {
    expect(parseQuery('Budget "next Quarter" budget "solo" "unclosed words').terms).toEqual([
      ['budget'],
      ['next', 'quarter'],
      ['solo'],
      ['unclosed'],
      ['words'],
    ]);
  });

  it('reads a word directly followed by * outside quotes as a prefix, normalised like a word', () => {
    expect(parseQuery('Caf* budget "next quart*" CAFÉ* ab* x *')).toEqual({
      terms: [['budget'], ['next', 'quart'], ['x']],
      prefixes: ['caf', 'cafe', 'ab'],
    });
  });

  it('indexes the beginnings of 3 to 10 characters of every word, by characters not code units', () => {
    expect(prefixTokens(['ab', 'cafe', 'internationalisation'])).toEqual([
      'caf',
      'cafe',
      'int',
      'inte',
      'inter',
      'intern',
      'interna',
      'internat',
      'internati',
      'internatio',
    ]);
    expect(prefixTokens(['😀😀😀x'])).toEqual(['😀😀😀', '😀😀😀x']);
    expect(indexedPrefix('internationalis')).toBe('internatio');
  });

  it('every beginning of 3+ characters of a word of a text, asked as a prefix, is among its indexed ones', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.nat(), fc.nat(), (text, pick, cut) => {
        const tokens = textTokens(text);
        const token = tokens[pick % Math.max(1, tokens.length)];
        const characters = Array.from(token ?? '');
        fc.pre(characters.length >= 3);
        const length = 3 + (cut % (characters.length - 2));
        const { prefixes } = parseQuery(`${characters.slice(0, length).join('')}*`);
        const indexed = new Set(prefixTokens(tokens));
        for (const prefix of prefixes) expect(indexed.has(indexedPrefix(prefix))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('normalisation is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => {
        const once = normaliseText(text);
        expect(normaliseText(once)).toBe(once);
      }),
      { numRuns: 500 },
    );
  });

  it('tokens are stable: tokenizing tokens again gives them back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (text) => {
        const tokens = textTokens(text);
        expect(textTokens(tokens.join(' '))).toEqual(tokens);
      }),
      { numRuns: 500 },
    );
  });

  it('every word of a text, asked as a query, names only tokens the text has', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.nat(), (text, pick) => {
        const runs = wordRuns(text);
        fc.pre(runs.length > 0);
        const run = runs[pick % runs.length];
        if (!run) return;
        const indexed = new Set(textTokens(text));
        for (const token of queryTokens(parseQuery(text.slice(run.start, run.end))))
          expect(indexed.has(token)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('word offsets point into the original text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (text) => {
        for (const run of wordRuns(text))
          expect(textTokens(text.slice(run.start, run.end))).toEqual(run.tokens);
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * The definition the tokenizer's fast paths (ASCII words, characters by code, prefixes cut by code unit) must
 * match exactly: a token that differs from the one a message was indexed under is a message search no longer
 * finds. Character by character with Unicode tests, every word through the full normalisation.
 */
function referenceRuns(text: string) {
  const isWordChar = (char: string) =>
    /[\p{L}\p{N}\p{M}]/u.test(char) || /[\p{L}\p{N}\p{M}]/u.test(char.normalize('NFKC'));
  const tokensOf = (word: string) =>
    normaliseText(word)
      .split(/[^\p{L}\p{N}]+/u)
      .filter((token) => token.length > 0);
  const runs: { start: number; end: number; tokens: string[] }[] = [];
  let start = -1;
  let index = 0;
  const close = (end: number) => {
    const tokens = tokensOf(text.slice(start, end));
    if (tokens.length > 0) runs.push({ start, end, tokens });
    start = -1;
  };
  for (const char of text) {
    if (isWordChar(char)) {
      if (start === -1) start = index;
    } else if (start !== -1) close(index);
    index += char.length;
  }
  if (start !== -1) close(index);
  return runs;
}

const referencePrefixes = (tokens: readonly string[]) =>
  tokens.flatMap((token) => {
    const characters = Array.from(token);
    return Array.from({ length: Math.max(0, Math.min(characters.length, 10) - 2) }, (_, cut) =>
      characters.slice(0, cut + 3).join(''),
    );
  });

describe('search tokens, fast paths', () => {
  // Mostly ASCII with some of everything else: the mixes the fast paths must get right.
  const mixedText = fc.array(
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc.string({
          unit: fc.constantFrom('a', 'Z', '0', '9', ' ', '.', ',', '!', '-', '_', '*', '"', "'", '\n', '\t'),
          maxLength: 12,
        }),
      },
      { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'Straße',
          'ﬁne',
          '½',
          '™',
          'Ⅻ',
          'café',
          'ÉCOLE',
          '👍🏽',
          '\ud800x',
          'x\udc00',
        ),
      },
    ),
    { maxLength: 12 },
  );

  it('gives the same words, offsets and tokens as the character-by-character definition', () => {
    fc.assert(
      fc.property(mixedText, (parts) => {
        const text = parts.join('');
        expect(wordRuns(text)).toEqual(referenceRuns(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the same beginnings as cutting by characters', () => {
    fc.assert(
      fc.property(mixedText, (parts) => {
        const tokens = textTokens(parts.join(''));
        expect(prefixTokens(tokens)).toEqual(referencePrefixes(tokens));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('search snippets', () => {
  it('highlights every matching word of a short text, whatever its case and accents', () => {
    const snippet = buildSnippet('Le Café de ZOË: café, cafe, CAFÉS', new Set(['cafe', 'zoe']));
    expect(snippet.text).toBe('Le Café de ZOË: café, cafe, CAFÉS');
    expect(highlighted(snippet)).toEqual(['Café', 'ZOË', 'café', 'cafe']);
  });

  it('cuts about 160 characters around the first hit at word boundaries, offsets into the snippet', () => {
    const before = 'lorem ipsum dolor sit amet '.repeat(10);
    const after = ' consectetur adipiscing elit sed do'.repeat(10);
    const text = `${before}Ünïcode${after}`;
    const snippet = buildSnippet(text, new Set(['unicode']));
    expect(snippet.text.startsWith('…')).toBe(true);
    expect(snippet.text.endsWith('…')).toBe(true);
    expect(snippet.text.length).toBeLessThanOrEqual(162);
    expect(highlighted(snippet)).toEqual(['Ünïcode']);
    // Whole words at both cuts.
    const inner = snippet.text.slice(1, -1);
    expect(text.includes(inner)).toBe(true);
    expect(inner).toMatch(/^\p{L}/u);
    expect(inner).toMatch(/\p{L}$/u);
  });

  it('never cuts a character in two', () => {
    const text = `${'😀'.repeat(200)} needle`;
    const snippet = buildSnippet(text, new Set(['needle']));
    expect(snippet.text).not.toMatch(
      /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u,
    );
    expect(highlighted(snippet)).toEqual(['needle']);
  });

  it('highlights whole words that begin with a prefix', () => {
    const snippet = buildSnippet('Cafétéria, café, CAFE, caffeine and a cab', new Set(['cab']), ['cafe']);
    expect(highlighted(snippet)).toEqual(['Cafétéria', 'café', 'CAFE', 'cab']);
  });

  it('shows the beginning of a text without a match', () => {
    expect(buildSnippet('nothing here', new Set(['else']))).toEqual({ text: 'nothing here', highlights: [] });
  });
});

describe('tsvector literal', () => {
  it('lists each token once with all its positions, capped as PostgreSQL requires', () => {
    expect(tsvectorLiteral(['aa', 'bb', 'aa'])).toBe("'aa':1,3 'bb':2");
    const many = tsvectorLiteral(Array.from({ length: 20_000 }, () => 'cc'));
    const positions = many.split(':')[1]?.split(',') ?? [];
    expect(positions).toHaveLength(256);
  });
});
