import { describe, expect, it } from 'vitest';
import { MemoryCounter } from '../../src/counters/memory-counter.ts';
import { SignInAddressThrottle } from '../../src/identity/signin-address-throttle.ts';

/**
 * Attack: a client on IPv6 holds a whole /64 (the usual allocation to one host or home line) and signs in
 * from a fresh address of it for every guess, so a count per exact address never reaches its limit. Also: an
 * IPv4 client seen once as `a.b.c.d` and once IPv4-mapped (`::ffff:a.b.c.d`, e.g. through a proxy that
 * writes either) would get two allowances.
 */
describe('the per-address sign-in throttle counts an IPv6 client by its /64', () => {
  const policy = { ipLockout: { maxFailures: 3, windowSeconds: 900 } };
  const clock = { now: () => 1_700_000_000_000 };

  it('failures from different addresses of one /64 add up, at the tenant and against the ceiling', async () => {
    const throttle = new SignInAddressThrottle(new MemoryCounter(clock), 5);
    for (let n = 1; n <= 3; n += 1)
      await throttle.registerFailure('t1', `2001:db8:1:2::${n.toString(16)}`, policy);
    expect(await throttle.refusal('t1', '2001:db8:1:2:ffff:ffff:ffff:ffff', policy)).toEqual({
      retryAfter: 900,
    });
    // Spread over tenants, the same /64 meets the global ceiling.
    for (let n = 1; n <= 2; n += 1)
      await throttle.registerFailure(`t${n + 1}`, `2001:0db8:0001:0002:${n}::1`, policy);
    expect(await throttle.refusal('t9', '2001:db8:1:2:abcd::7', policy)).toEqual({ retryAfter: 900 });
    // Another /64 is not refused.
    expect(await throttle.refusal('t1', '2001:db8:1:3::1', policy)).toBeUndefined();
  });

  it('an IPv4 address counts the same whether it arrives plain or IPv4-mapped', async () => {
    const throttle = new SignInAddressThrottle(new MemoryCounter(clock), 100);
    await throttle.registerFailure('t1', '198.51.100.7', policy);
    await throttle.registerFailure('t1', '::ffff:198.51.100.7', policy);
    await throttle.registerFailure('t1', '198.51.100.7', policy);
    expect(await throttle.refusal('t1', '::ffff:198.51.100.7', policy)).toEqual({ retryAfter: 900 });
    expect(await throttle.refusal('t1', '198.51.100.8', policy)).toBeUndefined();
  });
});
