import type { Redis } from 'ioredis';
import type { Counter } from './counter.ts';

/**
 * DECR that stops at 0 and keeps the key's expiry (DECR keeps the TTL; a key that is gone, its window over,
 * stays gone rather than coming back as -1 without an expiry). One script, so no INCR slips in between.
 */
const DECREMENT_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count <= 0 then return 0 end
return redis.call('DECR', KEYS[1])
`;

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

  async decrement(key: string): Promise<number> {
    return Number(await this.redis.eval(DECREMENT_SCRIPT, 1, `${this.prefix}counter:${key}`));
  }

  async peek(key: string): Promise<number> {
    return Number((await this.redis.get(`${this.prefix}counter:${key}`)) ?? 0);
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(`${this.prefix}counter:${key}`);
  }
}
