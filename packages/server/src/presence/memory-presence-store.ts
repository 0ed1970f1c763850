import type { Clock } from '../clock.ts';
import type { PresenceStore } from './presence-store.ts';

/** Presence of one node's connections (the embedded default). */
export class MemoryPresenceStore implements PresenceStore {
  readonly #connections = new Map<string, Map<string, number>>();

  constructor(private readonly clock: Clock) {}

  #live(key: string): Map<string, number> {
    const now = this.clock.now();
    const entries = this.#connections.get(key) ?? new Map<string, number>();
    for (const [id, expiresAt] of entries) if (expiresAt <= now) entries.delete(id);
    return entries;
  }

  connect(tenantId: string, userId: string, connectionId: string, ttlMs: number): Promise<boolean> {
    const key = `${tenantId}:${userId}`;
    const entries = this.#live(key);
    const wasOffline = entries.size === 0;
    entries.set(connectionId, this.clock.now() + ttlMs);
    this.#connections.set(key, entries);
    return Promise.resolve(wasOffline);
  }

  disconnect(tenantId: string, userId: string, connectionId: string): Promise<boolean> {
    const key = `${tenantId}:${userId}`;
    const entries = this.#live(key);
    entries.delete(connectionId);
    if (entries.size === 0) this.#connections.delete(key);
    return Promise.resolve(entries.size === 0);
  }

  liveConnections(tenantId: string, userId: string): Promise<Set<string>> {
    return Promise.resolve(new Set(this.#live(`${tenantId}:${userId}`).keys()));
  }

  isOnline(tenantId: string, userId: string): Promise<boolean> {
    return Promise.resolve(this.#live(`${tenantId}:${userId}`).size > 0);
  }
}
