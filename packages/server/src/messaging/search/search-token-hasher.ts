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
 * Tokens remembered per tenant key, so a tenant's common words are hashed once, not in every message: words
 * follow Zipf's law, and most of a message's words (and their beginnings) were seen recently. Bounded: past
 * this many the key's memory starts afresh. Keyed by the key object itself, so a rotated key never sees the
 * old key's tokens, and a key the keyring dropped takes its tokens with it.
 */
const TOKENS_REMEMBERED_PER_KEY = 100_000;

/** Turns one normalised word into its opaque index token. */
export type BlindTokenFn = (token: string) => string;

/**
 * Blind search tokens: HMAC-SHA-256 of each normalised word under the tenant's index key (the key e-mail
 * lookups use, with its own label), truncated to 80 bits, in lower-case hex. The index stores only these:
 * no plaintext word, and without the tenant key a token cannot be tested against a guess. Equal words give
 * equal tokens within a tenant (that is what makes them searchable); see docs/security.md.
 */
export class SearchTokenHasher {
  readonly #remembered = new WeakMap<object, Map<string, string>>();

  constructor(private readonly keyring: Keyring) {}

  async forTenant(tx: TenantTx, tenantId: string, kind: TokenKind = 'word'): Promise<BlindTokenFn> {
    const { key } = await this.keyring.tenantKey(tx, tenantId, 'index');
    const label = labels[kind];
    let memo = this.#remembered.get(key);
    if (!memo) {
      memo = new Map();
      this.#remembered.set(key, memo);
    }
    const remembered = memo;
    return (token) => {
      const labelled = label + token;
      let blind = remembered.get(labelled);
      if (blind === undefined) {
        blind = createHmac('sha256', key).update(labelled).digest().subarray(0, tokenBytes).toString('hex');
        if (remembered.size >= TOKENS_REMEMBERED_PER_KEY) remembered.clear();
        remembered.set(labelled, blind);
      }
      return blind;
    };
  }
}
