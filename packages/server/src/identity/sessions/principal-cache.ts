import type { Principal } from './principal-resolver.ts';

export interface CachedPrincipal {
  principal: Principal;
  accessExpiresAt: number;
  idleTimeoutMs: number;
  lastUsedAt: number;
  persistedLastUsedAt: number;
}

const CAPACITY = 100_000;

/**
 * Validated access tokens by hash, with an index by session so a revocation evicts in O(1). Bounded: the
 * oldest entries go first, and a miss only costs one database lookup.
 */
export class PrincipalCache {
  readonly #byHash = new Map<string, CachedPrincipal>();
  readonly #hashBySession = new Map<string, string>();
  #generation = 0;

  /**
   * Moves on every eviction. A lookup notes it before reading the database and caches its answer only if
   * it has not moved: otherwise a revocation that committed and evicted while the lookup read would be
   * undone by the lookup caching the row it read before (and the token would work again from the cache).
   */
  get generation(): number {
    return this.#generation;
  }

  get(hash: string): CachedPrincipal | undefined {
    return this.#byHash.get(hash);
  }

  peekSession(sessionId: string): CachedPrincipal | undefined {
    const hash = this.#hashBySession.get(sessionId);
    return hash === undefined ? undefined : this.#byHash.get(hash);
  }

  /** Caches `entry` unless an eviction happened since `seenGeneration` (see `generation`). */
  set(hash: string, entry: CachedPrincipal, seenGeneration: number): void {
    if (seenGeneration !== this.#generation) return;
    const previous = this.#hashBySession.get(entry.principal.sessionId);
    if (previous !== undefined) this.#byHash.delete(previous);
    if (this.#byHash.size >= CAPACITY) {
      const oldest = this.#byHash.entries().next();
      if (oldest.done !== true) {
        this.#byHash.delete(oldest.value[0]);
        this.#hashBySession.delete(oldest.value[1].principal.sessionId);
      }
    }
    this.#byHash.set(hash, entry);
    this.#hashBySession.set(entry.principal.sessionId, hash);
  }

  evictSessions(sessionIds: readonly string[]): void {
    this.#generation += 1;
    for (const sessionId of sessionIds) {
      const hash = this.#hashBySession.get(sessionId);
      if (hash !== undefined) this.#byHash.delete(hash);
      this.#hashBySession.delete(sessionId);
    }
  }

  /** Drops every cached principal of a tenant (a custom role changed: anyone may hold it). */
  evictTenant(tenantId: string): void {
    this.#generation += 1;
    for (const [hash, entry] of this.#byHash) {
      if (entry.principal.tenantId !== tenantId) continue;
      this.#byHash.delete(hash);
      this.#hashBySession.delete(entry.principal.sessionId);
    }
  }

  clear(): void {
    this.#generation += 1;
    this.#byHash.clear();
    this.#hashBySession.clear();
  }
}
