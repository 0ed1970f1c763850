import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Counter } from '../../src/counters/counter.ts';
import { MemoryCounter } from '../../src/counters/memory-counter.ts';
import { RedisCounter } from '../../src/counters/redis-counter.ts';
import { describeRedis } from '../support/dialects.ts';

/** What every counter promises, run against each adapter. `expire` ends every live window. */
function counterContract(make: () => { counter: Counter; expire: () => Promise<void> }) {
  const windowMs = 60_000;

  it('increment returns the new count and peek reads it without adding', async () => {
    const { counter } = make();
    expect(await counter.peek('k', windowMs)).toBe(0);
    expect(await counter.increment('k', windowMs)).toBe(1);
    expect(await counter.increment('k', windowMs)).toBe(2);
    expect(await counter.peek('k', windowMs)).toBe(2);
  });

  it('decrement takes one back and never goes below 0', async () => {
    const { counter } = make();
    await counter.increment('k', windowMs);
    await counter.increment('k', windowMs);
    expect(await counter.decrement('k', windowMs)).toBe(1);
    expect(await counter.decrement('k', windowMs)).toBe(0);
    expect(await counter.decrement('k', windowMs)).toBe(0);
    expect(await counter.decrement('never-counted', windowMs)).toBe(0);
    expect(await counter.peek('k', windowMs)).toBe(0);
    expect(await counter.increment('k', windowMs)).toBe(1);
  });

  it('increments and decrements at once add up exactly', async () => {
    const { counter } = make();
    await Promise.all(Array.from({ length: 20 }, () => counter.increment('k', windowMs)));
    await Promise.all(Array.from({ length: 25 }, () => counter.decrement('k', windowMs)));
    expect(await counter.peek('k', windowMs)).toBe(0);
    const counts = await Promise.all(Array.from({ length: 10 }, () => counter.increment('k', windowMs)));
    expect([...counts].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a decrement keeps the window: the count still ends when the window does', async () => {
    const { counter, expire } = make();
    await counter.increment('k', windowMs);
    await counter.increment('k', windowMs);
    await counter.decrement('k', windowMs);
    await expire();
    expect(await counter.peek('k', windowMs)).toBe(0);
    // A decrement after the window ended does not open a new one below 0.
    expect(await counter.decrement('k', windowMs)).toBe(0);
    expect(await counter.increment('k', windowMs)).toBe(1);
  });

  it('reset forgets the count', async () => {
    const { counter } = make();
    await counter.increment('k', windowMs);
    await counter.reset('k');
    expect(await counter.peek('k', windowMs)).toBe(0);
  });
}

describe('the counter contract [memory]', () => {
  counterContract(() => {
    const clock = { time: 1_700_000_000_000, now: () => clock.time };
    const counter = new MemoryCounter(clock);
    return {
      counter,
      expire: () => {
        clock.time += 60_001;
        return Promise.resolve();
      },
    };
  });
});

describeRedis('the counter contract', () => {
  const redis = new Redis(inject('redisUrl') || 'redis://127.0.0.1:6379', { lazyConnect: true });

  afterAll(async () => {
    await redis.quit();
  });

  counterContract(() => {
    const prefix = `parley-test-${randomUUID()}:`;
    return {
      counter: new RedisCounter(redis, prefix),
      // Redis keeps the clock: the TTL must still be there after the decrement (DECR on a key that lost its
      // expiry would count forever); then ending the window is what the TTL would do, deleting the key.
      expire: async () => {
        const key = `${prefix}counter:k`;
        expect(await redis.pttl(key)).toBeGreaterThan(0);
        await redis.del(key);
      },
    };
  });
});
