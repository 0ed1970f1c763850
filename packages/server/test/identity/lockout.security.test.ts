import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { describeEachDialect, describeRedis } from '../support/dialects.ts';
import {
  json,
  memberPassword,
  newMember,
  newTenantOwner,
  ownerPassword,
  type SignedIn,
  tokenRequest,
} from '../support/identity-fixtures.ts';
import { startTestServer, type StartOptions, type TestServer } from '../support/start-server.ts';

/**
 * Attack: an attacker wants to know whether an address has an account. Sign-in answers "wrong password"
 * alike for both, but if only real accounts locked after five failures, the sixth try would tell. So an
 * address without an account counts failures and locks exactly like one: the same statuses, bodies and
 * Retry-After for the same sequence of tries, with the counters in memory and in Redis.
 */

interface Answer {
  status: number;
  body: unknown;
  retryAfter: string | undefined;
}

const guesses = ['Summer2024!', 'Winter2024!', 'Spring2024!', 'Autumn2024!', 'Password1!', 'Letmein1!'];

function lockoutSuite(options: () => StartOptions, clock?: { time: number }) {
  let server: TestServer;
  let owner: SignedIn;

  beforeAll(async () => {
    server = await startTestServer(options());
    owner = await newTenantOwner(server);
  });

  afterAll(async () => {
    await server.close();
  });

  const attempt = async (username: string, password: string): Promise<Answer> => {
    const response = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username,
      password,
    });
    const header = response.headers['retry-after'];
    return { status: response.status, body: response.json(), retryAfter: header?.toString() };
  };

  /** Six wrong guesses, then the known account's real password: what an attacker sees, try by try. */
  const run = async (address: string) => {
    const answers: Answer[] = [];
    for (const password of [...guesses, memberPassword]) answers.push(await attempt(address, password));
    return answers;
  };

  it('answers an address without an account exactly like a real one, try by try, into the lockout', async () => {
    const known = `known-${randomUUID()}@acme.example`;
    await newMember(server, owner, known);
    const unknown = `unknown-${randomUUID()}@acme.example`;

    const forKnown = await run(known);
    const forUnknown = await run(unknown);

    expect(forKnown.map((answer) => answer.status)).toEqual([400, 400, 400, 400, 400, 429, 429]);
    expect(forKnown[5]).toMatchObject({
      body: { error: 'invalid_grant', error_description: expect.stringContaining('locked') },
      retryAfter: '30',
    });
    expect(forUnknown).toEqual(forKnown);
  });

  it('counts the address however it is written (case, spaces), for both kinds', async () => {
    const known = `mixed-${randomUUID()}@acme.example`;
    await newMember(server, owner, known);
    const unknown = `nobody-${randomUUID()}@acme.example`;
    const spellings = (address: string) => [address, address.toUpperCase(), ` ${address} `];
    const answers = async (address: string) => {
      const seen: number[] = [];
      for (let n = 0; n < 6; n += 1) {
        const spelling = spellings(address)[n % 3] ?? address;
        seen.push((await attempt(spelling, `wrong guess ${n}`)).status);
      }
      return seen;
    };
    expect(await answers(known)).toEqual([400, 400, 400, 400, 400, 429]);
    expect(await answers(unknown)).toEqual([400, 400, 400, 400, 400, 429]);
  });

  if (clock) {
    it('backs off alike once a lock is over: the next failure locks twice as long', async () => {
      const known = `backoff-${randomUUID()}@acme.example`;
      await newMember(server, owner, known);
      const unknown = `ghost-${randomUUID()}@acme.example`;
      await run(known);
      await run(unknown);
      clock.time += 31_000;
      const after = async (address: string) => [
        await attempt(address, 'one more wrong guess'),
        await attempt(address, memberPassword),
      ];
      const forKnown = await after(known);
      expect(forKnown.map((answer) => [answer.status, answer.retryAfter])).toEqual([
        [400, undefined],
        [429, '60'],
      ]);
      expect(await after(unknown)).toEqual(forKnown);
      // And a lock that is over lets the real password in.
      clock.time += 61_000;
      expect((await attempt(known, memberPassword)).status).toBe(200);
    });
  }
}

describeEachDialect('account lockout does not reveal which addresses have accounts', (dialect) => {
  const clock = { time: Date.now(), now: () => clock.time };
  lockoutSuite(() => ({ dialect, clock }), clock);
});

describeRedis('account lockout does not reveal which addresses have accounts, counted in Redis', () => {
  lockoutSuite(() => ({
    env: { REDIS_URL: inject('redisUrl'), PARLEY_REDIS_PREFIX: `parley-test-${randomUUID()}:` },
  }));
});

/**
 * Attack: someone behind the same address as a tenant's users (a shared office NAT, a carrier-grade NAT, a
 * VPN exit) fails sign-ins at a tenant of their own on purpose. If the per-address throttle counted failures
 * across tenants, every other tenant's users behind that address would be refused too: a lockout of
 * strangers for the price of a few wrong passwords. So the throttle counts per tenant and address. The
 * opposite attack, one address spraying guesses over many tenants to escape each tenant's limit, meets a
 * global per-address ceiling (PARLEY_SIGNIN_IP_CEILING) that is far above any one tenant's limit.
 */
/** A new tenant on `server` whose per-address limit is `maxFailures` failed sign-ins per window. */
async function tenantWithLimit(server: TestServer, maxFailures: number) {
  const owner = await newTenantOwner(server);
  const patched = await server.request(
    '/v1/tenant/settings',
    json({ passwordPolicy: { ipLockout: { maxFailures } } }, owner.accessToken, 'PATCH'),
  );
  expect(patched.status).toBe(200);
  return owner;
}

describeEachDialect('the per-address sign-in throttle', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ dialect, env: { PARLEY_SIGNIN_IP_CEILING: '8' } });
  });

  afterAll(async () => {
    await server.close();
  });

  const failAt = async (tenantId: string) => {
    // A fresh address each time, so the per-account lockout never answers first.
    const response = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: tenantId,
      username: `nobody-${randomUUID()}@acme.example`,
      password: 'not the password at all',
    });
    return response.status;
  };

  it('failures at one tenant do not lock sign-ins from the same address out of another tenant', async () => {
    const noisy = await tenantWithLimit(server, 3);
    const quiet = await tenantWithLimit(server, 3);
    expect([
      await failAt(noisy.tenantId),
      await failAt(noisy.tenantId),
      await failAt(noisy.tenantId),
    ]).toEqual([400, 400, 400]);
    // The noisy tenant now refuses this address, even with the right password…
    const locked = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: noisy.tenantId,
      username: noisy.email,
      password: ownerPassword,
    });
    expect(locked.status).toBe(429);
    expect(locked.json()).toMatchObject({ error_description: expect.stringContaining('this address') });
    // …while the quiet tenant's owner, behind the same address, signs in.
    const signedIn = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: quiet.tenantId,
      username: quiet.email,
      password: ownerPassword,
    });
    expect(signedIn.status).toBe(200);
  });

  it('an address spraying many tenants meets the global ceiling, across tenants', async () => {
    const tenants = [
      await tenantWithLimit(server, 100),
      await tenantWithLimit(server, 100),
      await tenantWithLimit(server, 100),
    ];
    const fresh = await tenantWithLimit(server, 100);
    // However many this address already spent (other tests share the server), the ceiling of 8 comes
    // within 8 failures, spread over tenants that each allow 100.
    const statuses: number[] = [];
    for (let n = 0; n < 9 && statuses.at(-1) !== 429; n += 1) {
      statuses.push(await failAt(tenants[n % 3]?.tenantId ?? ''));
    }
    expect(statuses.at(-1)).toBe(429);
    const refused = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: fresh.tenantId,
      username: fresh.email,
      password: ownerPassword,
    });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('900');
  });
});

/**
 * Attack: the per-address throttle used to look at its counts before the password was hashed and add a
 * failure only after the answer. An attacker with many connections sends guesses all at once: every one of
 * them passes the look while the count is still under the limit, so a window allowed about the limit plus
 * the number of connections, not the limit. Now each attempt reserves its place in both counts before it is
 * judged, so however many guesses arrive together, at most the limit of them are judged.
 */
function concurrentGuessSuite(options: () => StartOptions) {
  /** A server whose global per-address ceiling is `ceiling`, for one test (the ceiling is per server). */
  const withServer = async (ceiling: number, test: (server: TestServer) => Promise<void>) => {
    const base = options();
    const server = await startTestServer({
      ...base,
      env: { ...base.env, PARLEY_SIGNIN_IP_CEILING: String(ceiling) },
    });
    try {
      await test(server);
    } finally {
      await server.close();
    }
  };

  /** `count` wrong guesses sent at once, each for a fresh address so the per-account lockout stays out. */
  const guessAtOnce = async (server: TestServer, tenantIds: readonly string[], count: number) => {
    const responses = await Promise.all(
      Array.from({ length: count }, (_, n) =>
        tokenRequest(server, {
          grant_type: 'password',
          tenant_id: tenantIds[n % tenantIds.length] ?? '',
          username: `nobody-${randomUUID()}@acme.example`,
          password: `guess number ${n}`,
        }),
      ),
    );
    const descriptions = responses.map(
      (response) => response.json<{ error_description: string }>().error_description,
    );
    return {
      judged: descriptions.filter((text) => text === 'Invalid username or password.').length,
      refused: responses.filter(
        (response) =>
          response.status === 429 &&
          response.json<{ error_description: string }>().error_description.includes('this address'),
      ).length,
    };
  };

  it('judges at most the tenant limit of guesses sent at once from one address', async () => {
    await withServer(500, async (server) => {
      const tenant = await tenantWithLimit(server, 3);
      expect(await guessAtOnce(server, [tenant.tenantId], 9)).toEqual({ judged: 3, refused: 6 });
      // Refused attempts gave their places back: the count is 3, not 9, and stays refusing.
      expect(await guessAtOnce(server, [tenant.tenantId], 3)).toEqual({ judged: 0, refused: 3 });
    });
  });

  it('judges at most the global ceiling of guesses sprayed at once over many tenants', async () => {
    await withServer(4, async (server) => {
      const tenants = [
        await tenantWithLimit(server, 100),
        await tenantWithLimit(server, 100),
        await tenantWithLimit(server, 100),
      ];
      expect(
        await guessAtOnce(
          server,
          tenants.map((tenant) => tenant.tenantId),
          12,
        ),
      ).toEqual({
        judged: 4,
        refused: 8,
      });
    });
  });

  it('a right password gives its place back: sign-ins do not use up the allowance', async () => {
    await withServer(500, async (server) => {
      const tenant = await tenantWithLimit(server, 2);
      const signIn = (password: string) =>
        tokenRequest(server, {
          grant_type: 'password',
          tenant_id: tenant.tenantId,
          username: tenant.email,
          password,
        });
      const statuses: number[] = [];
      for (let n = 0; n < 4; n += 1) statuses.push((await signIn(ownerPassword)).status);
      expect(statuses).toEqual([200, 200, 200, 200]);
      expect(await guessAtOnce(server, [tenant.tenantId], 3)).toEqual({ judged: 2, refused: 1 });
    });
  });
}

describeEachDialect('concurrent guesses from one address meet the per-address throttle', (dialect) => {
  concurrentGuessSuite(() => ({ dialect }));
});

describeRedis('concurrent guesses from one address meet the per-address throttle, counted in Redis', () => {
  concurrentGuessSuite(() => ({
    env: { REDIS_URL: inject('redisUrl'), PARLEY_REDIS_PREFIX: `parley-test-${randomUUID()}:` },
  }));
});
