/**
 * Message text for the grown database: chat-like sentences of 5–30 words from a fixed-seed generator, so
 * the same options grow the same words (and the search index holds realistic tokens: a few very common
 * words, a long tail of rare ones, some words with diacritics, numbers and the odd emoji).
 */

/** A fixed-seed PRNG (mulberry32): fast, and the same sequence on every machine. */
export class SeededRandom {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

/** The head of the vocabulary, most frequent first (ranks 0…): everyday chat English. */
const COMMON = `the i you to a and it is that of in for me we on this be my have so do not with are can
just at what was it's will but get if your all no yes ok okay know be there they about up how out like
think good one now from he she an time see today go going back did can't then when would going thanks
let's meeting tomorrow please sure great call send need should maybe also here work some sorry could
yeah them been our more new still week morning want make right because take look soon later done
file update team later doc review before after lunch tonight night next last again really much well
check friday monday tuesday wednesday thursday weekend email report project plan issue fix build test
release deploy server client meeting notes agenda draft slides budget invoice order customer sales
office home train late early minutes hour coffee thing things people idea ideas question answer
problem working looks nice cool awesome perfect exactly agree happy busy free available schedule
moved cancel cancelled confirm confirmed share shared link attached version latest final ready start
started finish finished almost quick quickly short long help thank welcome hello hi hey bye cheers
dinner weather rain sun trip flight hotel ticket car bus station airport city street address phone
number price cost paid pay account password login access data design change changes comment comments
branch merge commit ticket backlog sprint demo feedback deadline priority urgent important simple
different same other another every each many few most least always never sometimes often usually
maybe probably definitely actually basically honestly literally seriously anyway though although
café naïve résumé zürich münchen são paulo façade jalapeño crème brûlée smörgåsbord`
  .split(/\s+/)
  .filter(Boolean);

const ONSETS = ['b', 'br', 'c', 'ch', 'd', 'dr', 'f', 'g', 'gr', 'h', 'k', 'l', 'm', 'n', 'p', 'pl', 'r'];
const MORE_ONSETS = ['s', 'sh', 'st', 't', 'tr', 'v', 'w', 'z', 'qu', 'sk', 'sl', 'sp', 'th', 'bl', 'cl'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'i', 'o', 'ai', 'ea', 'ee', 'ou', 'y', 'ä', 'é'];
const CODAS = ['', '', '', 'n', 'r', 's', 't', 'l', 'm', 'nd', 'ng', 'rk', 'st', 'x', 'ck'];

/** The long tail: made-up words of 1–3 syllables (names, jargon, typos), distinct from each other. */
function tailWords(count: number, random: SeededRandom, taken: Set<string>): string[] {
  const onsets = [...ONSETS, ...MORE_ONSETS];
  const words: string[] = [];
  while (words.length < count) {
    let word = '';
    for (let syllable = random.int(1, 3); syllable > 0; syllable -= 1)
      word += random.pick(onsets) + random.pick(VOWELS) + random.pick(CODAS);
    if (word.length < 3 || taken.has(word)) continue;
    taken.add(word);
    words.push(word);
  }
  return words;
}

const EMOJI = ['👍', '🙂', '😂', '🎉', '🙏', '🔥', '👀', '❤️'];
const ENDINGS = ['.', '.', '.', '!', '?', '', '', '…'];

/** Words of the vocabulary by rank, with a Zipf-like frequency (rank r weighs 1 / (r + 2)^1.07). */
export class GrownVocabulary {
  readonly words: readonly string[];
  readonly #cumulative: Float64Array;

  constructor(seed: number, tailSize = 30_000) {
    const random = new SeededRandom(seed);
    const taken = new Set(COMMON);
    this.words = [...new Set(COMMON), ...tailWords(tailSize, random, taken)];
    this.#cumulative = new Float64Array(this.words.length);
    let total = 0;
    this.words.forEach((_, rank) => {
      total += 1 / (rank + 2) ** 1.07;
      this.#cumulative[rank] = total;
    });
    for (let rank = 0; rank < this.#cumulative.length; rank += 1)
      this.#cumulative[rank] = (this.#cumulative[rank] ?? 0) / total;
  }

  /** The share of all words drawn that are the word of this rank. */
  share(rank: number): number {
    return (this.#cumulative[rank] ?? 1) - (rank === 0 ? 0 : (this.#cumulative[rank - 1] ?? 0));
  }

  draw(random: SeededRandom): string {
    const target = random.next();
    let low = 0;
    let high = this.#cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#cumulative[middle] ?? 1) < target) low = middle + 1;
      else high = middle;
    }
    return this.words[low] ?? '';
  }

  /** One chat message: 5–30 words, sentence case, some punctuation, now and then a number or emoji. */
  message(random: SeededRandom): string {
    const count = random.int(5, 30);
    const parts: string[] = [];
    let sentenceStart = true;
    for (let index = 0; index < count; index += 1) {
      let word = random.chance(0.02) ? String(random.int(1, 2500)) : this.draw(random);
      if (sentenceStart) word = word.charAt(0).toUpperCase() + word.slice(1);
      sentenceStart = false;
      if (index < count - 1 && random.chance(0.08)) {
        word += random.pick(['.', ',', ',', '?', '!']);
        sentenceStart = !word.endsWith(',');
      }
      parts.push(word);
    }
    const text = parts.join(' ') + random.pick(ENDINGS);
    return random.chance(0.05) ? `${text} ${random.pick(EMOJI)}` : text;
  }
}

/** The seed every grown database uses: the same options grow the same text. */
export const GROWN_TEXT_SEED = 20_240_611;
