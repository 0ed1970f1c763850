import type { Bus } from '../../bus/bus.ts';
import { PrincipalCache } from './principal-cache.ts';
import { type Eviction, type EvictionEffect, RevocationBroadcast } from './revocation-broadcast.ts';

export interface SessionEvictionDeps {
  bus: Bus;
  /** Told when some node did not confirm a revocation in time (it may be partitioned from Redis). */
  onUnconfirmedRevocation: (missing: number) => void;
}

/**
 * This node's cache of validated tokens and what keeps it honest. The cache is only safe because every
 * change that could make a cached principal wrong (a session ended or replaced, roles changed) is announced
 * here and evicts it on every node; while the bus may be missing messages the cache is cleared and bypassed.
 * Kept in one place so no code path can change a session without telling the cache.
 */
export function createSessionEviction({ bus, onUnconfirmedRevocation }: SessionEvictionDeps) {
  const cache = new PrincipalCache();
  /** Holders of long-lived grants (realtime sockets): told of every eviction, synchronously. */
  const evictionListeners = new Set<(eviction: Eviction) => void>();
  function evictLocally(eviction: Eviction): void {
    if (eviction.sessionIds) cache.evictSessions(eviction.sessionIds);
    if (eviction.tenantId !== undefined) cache.evictTenant(eviction.tenantId);
    for (const listener of evictionListeners) listener(eviction);
  }
  bus.onReliabilityChange((reliable) => {
    cache.clear();
    // Evictions may have been missed during the gap: every open grant is checked again before it is used.
    if (reliable) for (const listener of evictionListeners) listener({ everyone: true, effect: 'changed' });
  });
  // Every node (this one included) applies an eviction before acknowledging it, so once `announce` returns
  // the cache entries are gone and the sockets of ended sessions are closed everywhere.
  const broadcast = RevocationBroadcast.start(bus, evictLocally, onUnconfirmedRevocation);
  // Subscribing cannot fail for good (the Redis subscriber waits); this only keeps a rejection handled.
  broadcast.catch(() => undefined);

  return {
    /** Validated tokens by hash; used only while `bus.reliable`. */
    cache,

    /** Evicts sessions here and on every node; call after the transaction that changed them commits. */
    announce: async (sessionIds: string[], effect: EvictionEffect = 'ended'): Promise<void> => {
      if (sessionIds.length === 0) return;
      // Here first, so this node is done even if the bus fails; applying an eviction twice is harmless.
      evictLocally({ sessionIds, effect });
      await (await broadcast).announce({ sessionIds, effect });
    },

    /** Evicts every cached principal of a tenant, here and on every node. */
    announceTenant: async (tenantId: string): Promise<void> => {
      evictLocally({ tenantId, effect: 'changed' });
      await (await broadcast).announce({ tenantId, effect: 'changed' });
    },

    /** Tells `listener` of every eviction this node applies, before it acknowledges; returns the stop. */
    onEviction: (listener: (eviction: Eviction) => void): (() => void) => {
      evictionListeners.add(listener);
      return () => {
        evictionListeners.delete(listener);
      };
    },
  };
}

export type SessionEviction = ReturnType<typeof createSessionEviction>;
