import { describe, expect, it } from 'vitest';
import { MemoryCounter } from '../../src/counters/memory-counter.ts';
import { SignInAddressThrottle } from '../../src/identity/passwords/signin-address-throttle.ts';

const policy = { ipLockout: { maxFailures: 3, windowSeconds: 900 } };
const clock = { now: () => 1_700_000_000_000 };

/** One failed guess: the attempt is admitted and keeps its place. */
const fail = async (throttle: SignInAddressThrottle, tenantId: string, ip: string) => {
  expect((await throttle.reserve(tenantId, ip, policy)).refusal).toBeUndefined();
};

/** The refusal an attempt would meet now; an admitted one is given back, as a right password is. */
const refusalFor = async (throttle: SignInAddressThrottle, tenantId: string, ip: string) => {
  const reserved = await throttle.reserve(tenantId, ip, policy);
  if (reserved.refusal) return reserved.refusal;
  await reserved.release();
  return undefined;
};

/**
 * Attack: a client on IPv6 holds a whole /64 (the usual allocation to one host or home line) and signs in
 * from a fresh address of it for every guess, so a count per exact address never reaches its limit. Also: an
 * IPv4 client seen once as `a.b.c.d` and once IPv4-mapped (`::ffff:a.b.c.d`, e.g. through a proxy that
 * writes either) would get two allowances.
 */
describe('the per-address sign-in throttle counts an IPv6 client by its /64', () => {
  it('failures from different addresses of one /64 add up, at the tenant and against the ceiling', async () => {
    const throttle = new SignInAddressThrottle(new MemoryCounter(clock), 5);
    for (let n = 1; n <= 3; n += 1) await fail(throttle, 't1', `2001:db8:1:2::${n.toString(16)}`);
    expect(await refusalFor(throttle, 't1', '2001:db8:1:2:ffff:ffff:ffff:ffff')).toEqual({
      retryAfter: 900,
    });
    // Spread over tenants, the same /64 meets the global ceiling.
    for (let n = 1; n <= 2; n += 1) await fail(throttle, `t${n + 1}`, `2001:0db8:0001:0002:${n}::1`);
    expect(await refusalFor(throttle, 't9', '2001:db8:1:2:abcd::7')).toEqual({ retryAfter: 900 });
    // Another /64 is not refused.
    expect(await refusalFor(throttle, 't1', '2001:db8:1:3::1')).toBeUndefined();
  });

  it('an IPv4 address counts the same whether it arrives plain or IPv4-mapped', async () => {
    const throttle = new SignInAddressThrottle(new MemoryCounter(clock), 100);
    await fail(throttle, 't1', '198.51.100.7');
    await fail(throttle, 't1', '::ffff:198.51.100.7');
    await fail(throttle, 't1', '198.51.100.7');
    expect(await refusalFor(throttle, 't1', '::ffff:198.51.100.7')).toEqual({ retryAfter: 900 });
    expect(await refusalFor(throttle, 't1', '198.51.100.8')).toBeUndefined();
  });
});

/**
 * Attack: guesses sent all at once each pass a look at the count taken before any of them is counted. So
 * every attempt reserves its place first; only those that end as failed guesses keep it.
 */
describe('the per-address sign-in throttle reserves a place before an attempt is judged', () => {
  it('admits at most the limit of attempts reserved at once, and refusals add nothing', async () => {
    const counter = new MemoryCounter(clock);
    const throttle = new SignInAddressThrottle(counter, 100);
    const answers = await Promise.all(
      Array.from({ length: 9 }, () => throttle.reserve('t1', '203.0.113.5', policy)),
    );
    expect(answers.filter((answer) => answer.refusal === undefined)).toHaveLength(3);
    expect(await counter.peek('signin-ip:t1:203.0.113.5', 900_000)).toBe(3);
    expect(await counter.peek('signin-ip:*:203.0.113.5', 900_000)).toBe(3);
  });

  it('a refusal by the global ceiling gives back the place it took at the tenant', async () => {
    const counter = new MemoryCounter(clock);
    const throttle = new SignInAddressThrottle(counter, 2);
    await fail(throttle, 't1', '203.0.113.6');
    await fail(throttle, 't2', '203.0.113.6');
    expect(await refusalFor(throttle, 't3', '203.0.113.6')).toEqual({ retryAfter: 900 });
    expect(await counter.peek('signin-ip:t3:203.0.113.6', 900_000)).toBe(0);
    expect(await counter.peek('signin-ip:*:203.0.113.6', 900_000)).toBe(2);
  });

  it('a released attempt (a right password) gives its place back in both counts', async () => {
    const counter = new MemoryCounter(clock);
    const throttle = new SignInAddressThrottle(counter, 100);
    for (let n = 0; n < 10; n += 1) expect(await refusalFor(throttle, 't1', '203.0.113.7')).toBeUndefined();
    expect(await counter.peek('signin-ip:t1:203.0.113.7', 900_000)).toBe(0);
    expect(await counter.peek('signin-ip:*:203.0.113.7', 900_000)).toBe(0);
  });
});
