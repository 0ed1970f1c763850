import type { Redis } from 'ioredis';
import type { Counter } from './counter.ts';

/**
 * Counters in Redis: INCR and a PEXPIRE set on the first hit of a window. If Redis is unreachable the
 * error propagates: a throttle that silently stops counting would be an open door.
 */
export class RedisCounter implements Counter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async increment(key: string, windowMs: number): Promise<number> {
    const full = `${this.prefix}counter:${key}`;
    const [[, count]] = (await this.redis.multi().incr(full).pexpire(full, windowMs, 'NX').exec()) as [
      [unknown, number],
    ];
    return count;
  }

  async peek(key: string): Promise<number> {
    return Number((await this.redis.get(`${this.prefix}counter:${key}`)) ?? 0);
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(`${this.prefix}counter:${key}`);
  }
}
