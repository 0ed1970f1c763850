import type { Principal } from './session-service.ts';

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

  get(hash: string): CachedPrincipal | undefined {
    return this.#byHash.get(hash);
  }

  peekSession(sessionId: string): CachedPrincipal | undefined {
    const hash = this.#hashBySession.get(sessionId);
    return hash === undefined ? undefined : this.#byHash.get(hash);
  }

  set(hash: string, entry: CachedPrincipal): void {
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
    for (const sessionId of sessionIds) {
      const hash = this.#hashBySession.get(sessionId);
      if (hash !== undefined) this.#byHash.delete(hash);
      this.#hashBySession.delete(sessionId);
    }
  }

  /** Drops every cached principal of a tenant (a custom role changed: anyone may hold it). */
  evictTenant(tenantId: string): void {
    for (const [hash, entry] of this.#byHash) {
      if (entry.principal.tenantId !== tenantId) continue;
      this.#byHash.delete(hash);
      this.#hashBySession.delete(entry.principal.sessionId);
    }
  }

  clear(): void {
    this.#byHash.clear();
    this.#hashBySession.clear();
  }
}
