import { createHmac } from 'node:crypto';
import type { Keyring } from '../../crypto/keyring.ts';
import type { TenantTx } from '../../storage/database.ts';

/**
 * Domain separation: a search token never equals an e-mail or phone blind index (`email:…`, `phone:…`), and
 * the token of a word's beginning (`pfx:`) never equals the token of a whole word (`fts:`), so `caf*` does
 * not find the word "caf" by accident, nor "caf" the words beginning with it.
 */
const labels = { word: 'fts:', prefix: 'pfx:' } as const;

/** What a token stands for: a whole word, or a word's beginning (see `prefixTokens`). */
export type TokenKind = keyof typeof labels;
/** 80 bits: collisions between a tenant's distinct words are negligible, and the index stays small. */
const tokenBytes = 10;

/**
 * Tokens remembered per tenant key and kind, so a tenant's common words are hashed once, not in every message:
 * words follow Zipf's law, and most of a message's words (and their beginnings) were seen recently. Bounded
 * (`TokenMemo`): at most twice this many per key and kind. Keyed by the key object itself, so a rotated key
 * never sees the old key's tokens, and a key the keyring dropped takes its tokens with it.
 */
const TOKENS_PER_GENERATION = 50_000;

/**
 * Two generations of remembered tokens: when the newer fills up, the older is dropped and the newer takes its
 * place. A token in use is found in either and carried into the newer, so the common words survive the
 * turnover; a plain `clear()` forgot them all at once, and a tenant whose vocabulary had outgrown the bound
 * (prefixes included, about 150,000 tokens in the bench's history) hashed most tokens again, every time.
 */
export class TokenMemo {
  #current = new Map<string, string>();
  #previous = new Map<string, string>();

  constructor(private readonly perGeneration = TOKENS_PER_GENERATION) {}

  /** Tokens remembered now (at most twice `perGeneration`). */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  get(token: string, compute: (token: string) => string): string {
    const known = this.#current.get(token);
    if (known !== undefined) return known;
    const blind = this.#previous.get(token) ?? compute(token);
    if (this.#current.size >= this.perGeneration) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
    this.#current.set(token, blind);
    return blind;
  }
}

/** Turns one normalised word into its opaque index token. */
export type BlindTokenFn = (token: string) => string;

/**
 * Blind search tokens: HMAC-SHA-256 of each normalised word under the tenant's index key (the key e-mail
 * lookups use, with its own label), truncated to 80 bits, in lower-case hex. The index stores only these:
 * no plaintext word, and without the tenant key a token cannot be tested against a guess. Equal words give
 * equal tokens within a tenant (that is what makes them searchable); see docs/security.md.
 */
export class SearchTokenHasher {
  readonly #remembered = new WeakMap<object, Record<TokenKind, TokenMemo>>();

  constructor(private readonly keyring: Keyring) {}

  async forTenant(tx: TenantTx, tenantId: string, kind: TokenKind = 'word'): Promise<BlindTokenFn> {
    const { key } = await this.keyring.tenantKey(tx, tenantId, 'index');
    const label = labels[kind];
    let memos = this.#remembered.get(key);
    if (!memos) {
      memos = { word: new TokenMemo(), prefix: new TokenMemo() };
      this.#remembered.set(key, memos);
    }
    const memo = memos[kind];
    const hash = (token: string) =>
      createHmac('sha256', key)
        .update(label + token)
        .digest()
        .subarray(0, tokenBytes)
        .toString('hex');
    return (token) => memo.get(token, hash);
  }
}
