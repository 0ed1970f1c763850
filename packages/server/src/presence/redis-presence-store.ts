import type { Redis } from 'ioredis';
import type { Clock } from '../clock.ts';
import type { PresenceStore } from './presence-store.ts';

/**
 * Presence across nodes: one sorted set per user, connection ids scored by their expiry. Stale members
 * (from a node that died) are trimmed before every answer.
 */
export class RedisPresenceStore implements PresenceStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly clock: Clock,
  ) {}

  #key(tenantId: string, userId: string): string {
    return `${this.prefix}presence:${tenantId}:${userId}`;
  }

  async connect(tenantId: string, userId: string, connectionId: string, ttlMs: number): Promise<boolean> {
    const key = this.#key(tenantId, userId);
    const now = this.clock.now();
    const results = (await this.redis
      .multi()
      .zremrangebyscore(key, '-inf', now)
      .zcard(key)
      .zadd(key, now + ttlMs, connectionId)
      .pexpire(key, ttlMs * 2)
      .exec()) as [unknown, number][];
    return results[1]?.[1] === 0;
  }

  async disconnect(tenantId: string, userId: string, connectionId: string): Promise<boolean> {
    const key = this.#key(tenantId, userId);
    const results = (await this.redis
      .multi()
      .zrem(key, connectionId)
      .zremrangebyscore(key, '-inf', this.clock.now())
      .zcard(key)
      .exec()) as [unknown, number][];
    return results[2]?.[1] === 0;
  }

  async liveConnections(tenantId: string, userId: string): Promise<Set<string>> {
    return new Set(await this.redis.zrangebyscore(this.#key(tenantId, userId), this.clock.now(), '+inf'));
  }

  async isOnline(tenantId: string, userId: string): Promise<boolean> {
    const count = await this.redis.zcount(this.#key(tenantId, userId), this.clock.now(), '+inf');
    return count > 0;
  }
}
