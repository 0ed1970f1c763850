import type { Tokens, TokenStore } from './token-store.ts';

/**
 * The default {@link TokenStore}: tokens live in this object only, out of reach of other scripts' storage
 * reads, and are gone when the page or process ends (the user signs in again).
 */
export class MemoryTokenStore implements TokenStore {
  #tokens: Tokens | undefined;

  constructor(initial?: Tokens) {
    this.#tokens = initial;
  }

  load(): Tokens | undefined {
    return this.#tokens;
  }

  save(tokens: Tokens): void {
    this.#tokens = tokens;
  }

  clear(): void {
    this.#tokens = undefined;
  }
}
