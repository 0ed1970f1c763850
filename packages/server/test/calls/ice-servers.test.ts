import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IceServersResponse } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { mintTurnCredential } from '../../src/calls/turn-credentials.ts';
import { type Coturn, describeCoturn, startCoturn } from '../support/coturn.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { allocateRelay } from '../support/turn-probe.ts';

/**
 * The ICE servers endpoint hands out TURN credentials a TURN server checks on its own (TURN REST API). Promises:
 * the credential is exactly base64 HMAC-SHA1 of the username under the shared secret, the username carries the
 * expiry and an opaque handle, nothing personal. Attacks tried: calling without a token, scope or permission;
 * minting in a loop; and, against a real coturn, using an expired credential, stretching the expiry in the
 * username, forging a credential under another secret, and claiming another handle.
 */
const secret = 'a8f3c1d9e0b24f6a9c7d5e3b1a0f2e4d6c8b0a9f7e5d3c1b';
const stunUrls = ['stun:turn.example.com:3478'];
const turnUrls = ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349?transport=tcp'];
const iceEnv = {
  PARLEY_STUN_URLS: stunUrls.join(','),
  PARLEY_TURN_URLS: turnUrls.join(', '),
  PARLEY_TURN_SECRET: secret,
  PARLEY_TURN_TTL_SECONDS: '900',
};
const memberPassword = 'seven violet kites drifting east';

/** The TURN REST API check a TURN server makes: base64(HMAC-SHA1(secret, username)), computed here alone. */
const expectedCredential = (username: string, withSecret = secret) =>
  createHmac('sha1', withSecret).update(username).digest('base64');

async function iceServers(server: TestServer, token: string): Promise<IceServersResponse> {
  const response = await server.request('/v1/calls/ice-servers', bearer(token));
  expect(response.status, response.text).toBe(200);
  return response.json<IceServersResponse>();
}

function turnEntry(body: IceServersResponse) {
  const entry = body.iceServers.find((server) => server.username !== undefined);
  if (!entry?.username || !entry.credential) throw new Error('no TURN entry with credentials');
  return { ...entry, username: entry.username, credential: entry.credential };
}

/** A second user of the owner's tenant with the given role, signed in with every scope. */
async function addUser(server: TestServer, owner: SignedIn, email: string, role: string) {
  const created = await server.request(
    '/v1/users',
    json({ displayName: 'Casey Caller', email, password: memberPassword, roles: [role] }, owner.accessToken),
  );
  expect(created.status, created.text).toBe(201);
  const { userId } = created.json<{ userId: string }>();
  return { userId, ...(await signIn(server, owner.tenantId, email, memberPassword, 'profile chat calls')) };
}

describe('ICE server configuration', () => {
  const problemsOf = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };

  it('reads STUN and TURN URLs comma-separated from the environment, or as a JSON array from the config file', () => {
    expect(loadConfig(iceEnv)).toMatchObject({ stunUrls, turnUrls, turnSecret: secret, turnTtlSeconds: 900 });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-ice-'));
    const file = path.join(dir, 'parley.json');
    writeFileSync(file, JSON.stringify({ turnUrls, turnSecret: secret }));
    try {
      expect(loadConfig({ PARLEY_CONFIG_FILE: file })).toMatchObject({ stunUrls: [], turnUrls });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses TURN URLs without a secret, a short secret, malformed URIs and a TTL out of range, never echoing the secret', () => {
    expect(problemsOf({ PARLEY_TURN_URLS: turnUrls[0] ?? '' })).toEqual([
      'PARLEY_TURN_URLS: needs PARLEY_TURN_SECRET to mint credentials',
    ]);
    const problems = problemsOf({
      PARLEY_STUN_URLS: 'https://stun.example.com',
      PARLEY_TURN_URLS: 'turn:turn.example.com?transport=sctp',
      PARLEY_TURN_SECRET: 'hunter2-hunter2',
      PARLEY_TURN_TTL_SECONDS: '5',
    });
    expect(problems.map((problem) => problem.split(':')[0])).toEqual([
      'PARLEY_STUN_URLS',
      'PARLEY_TURN_URLS',
      'PARLEY_TURN_SECRET',
      'PARLEY_TURN_TTL_SECONDS',
    ]);
    expect(problems.join('\n')).not.toContain('hunter2');
  });
});

describeEachDialect('GET /v1/calls/ice-servers', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  const frozenNow = Date.parse('2031-05-04T10:00:00.000Z');
  const clock: Clock = { now: () => frozenNow };

  beforeAll(async () => {
    server = await startTestServer({ dialect, env: iceEnv, clock });
    owner = await newTenantOwner(server, 'Harbour Clinic');
  });

  afterAll(async () => {
    await server.close();
  });

  it('returns the configured STUN URLs, and the TURN URLs with a credential that is base64 HMAC-SHA1 of the username under the shared secret', async () => {
    const body = await iceServers(server, owner.accessToken);
    expect(body.iceServers[0]).toEqual({ urls: stunUrls });
    const turn = turnEntry(body);
    expect(turn.urls).toEqual(turnUrls);
    expect(turn.credential).toBe(expectedCredential(turn.username));
    expect(turn.credential).not.toBe(expectedCredential(turn.username, `${secret}x`));
  });

  it('puts the expiry (now + the configured TTL, in unix seconds) in the username and in expiresAt', async () => {
    const body = await iceServers(server, owner.accessToken);
    const [expiry, handle, ...rest] = turnEntry(body).username.split(':');
    expect(rest).toEqual([]);
    expect(Number(expiry)).toBe(frozenNow / 1000 + 900);
    expect(handle).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(body.ttlSeconds).toBe(900);
    expect(body.expiresAt).toBe(new Date(frozenNow + 900_000).toISOString());
  });

  it('names the caller by an opaque handle: no user id, tenant id or e-mail in the username; stable per user, different between users', async () => {
    const first = turnEntry(await iceServers(server, owner.accessToken)).username;
    const again = turnEntry(await iceServers(server, owner.accessToken)).username;
    expect(again).toBe(first);
    const colleague = await addUser(server, owner, 'casey@harbour.example', 'member');
    const theirs = turnEntry(await iceServers(server, colleague.accessToken)).username;
    expect(theirs).not.toBe(first);
    for (const username of [first, theirs]) {
      for (const personal of [
        owner.userId,
        colleague.userId,
        owner.tenantId,
        owner.email,
        'casey',
        'Olivia',
      ]) {
        expect(username.toLowerCase()).not.toContain(personal.toLowerCase());
        expect(username).not.toContain(personal.replaceAll('-', ''));
      }
    }
  });

  it('refuses a request without a token (401), a token without the calls scope (403) and a guest, who lacks calls.make (403)', async () => {
    expect((await server.request('/v1/calls/ice-servers')).status).toBe(401);
    const chatOnly = await signIn(
      server,
      owner.tenantId,
      owner.email,
      'correct horse battery staple 2024',
      'profile chat',
    );
    const noScope = await server.request('/v1/calls/ice-servers', bearer(chatOnly.accessToken));
    expect(noScope.status).toBe(403);
    expect(noScope.text).toContain('insufficient_scope');
    const guest = await addUser(server, owner, 'guest@harbour.example', 'guest');
    const asGuest = await server.request('/v1/calls/ice-servers', bearer(guest.accessToken));
    expect(asGuest.status).toBe(403);
    expect(asGuest.text).toContain('forbidden');
    expect(asGuest.text).not.toContain('credential');
  });

  it('rate-limits one user minting credentials in a loop (429 with Retry-After), without slowing anyone else', async () => {
    const caller = await addUser(server, owner, 'looper@harbour.example', 'member');
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<TestServer['request']>> | undefined;
    for (let attempt = 0; attempt < 31; attempt += 1) {
      const response = await server.request('/v1/calls/ice-servers', bearer(caller.accessToken));
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    expect(statuses.slice(0, 30).every((status) => status === 200)).toBe(true);
    expect(statuses[30]).toBe(429);
    expect(limited?.headers['retry-after']).toBe('60');
    expect((await server.request('/v1/calls/ice-servers', bearer(owner.accessToken))).status).toBe(200);
  });

  it('never writes the secret or a minted credential to the log', async () => {
    const turn = turnEntry(await iceServers(server, owner.accessToken));
    const logs = server.logs.text();
    expect(logs).toContain('/v1/calls/ice-servers');
    expect(logs).not.toContain(secret);
    expect(logs).not.toContain(turn.credential);
  });
});

describe('GET /v1/calls/ice-servers without TURN configured', () => {
  it('returns only the STUN servers, with no credentials and expiresAt null', async () => {
    const server = await startTestServer({ env: { PARLEY_STUN_URLS: stunUrls.join(',') } });
    try {
      const owner = await newTenantOwner(server, 'Stun Only');
      const body = await iceServers(server, owner.accessToken);
      expect(body).toEqual({ iceServers: [{ urls: stunUrls }], expiresAt: null, ttlSeconds: 3600 });
    } finally {
      await server.close();
    }
  });

  it('returns an empty list when neither STUN nor TURN is configured', async () => {
    const server = await startTestServer();
    try {
      const owner = await newTenantOwner(server, 'Nothing Configured');
      expect((await iceServers(server, owner.accessToken)).iceServers).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describeCoturn('Parley-minted TURN credentials against a real coturn', () => {
  let coturn: Coturn;
  let owner: SignedIn;
  let server: TestServer;
  const turnEnv = () => ({
    PARLEY_TURN_URLS: `turn:${coturn.host}:${String(coturn.port)}?transport=udp`,
    PARLEY_TURN_SECRET: coturn.secret,
  });

  beforeAll(async () => {
    coturn = await startCoturn();
    server = await startTestServer({ env: turnEnv() });
    owner = await newTenantOwner(server, 'Relay Works');
  });

  afterAll(async () => {
    await server.close();
    await coturn.stop();
  });

  it('allocates a relay with the credentials GET /v1/calls/ice-servers hands out', async () => {
    const turn = turnEntry(await iceServers(server, owner.accessToken));
    expect(turn.urls).toEqual([`turn:127.0.0.1:${String(coturn.port)}?transport=udp`]);
    const outcome = await allocateRelay({
      host: coturn.host,
      port: coturn.port,
      username: turn.username,
      password: turn.credential,
    });
    expect(outcome, coturn.log()).toMatchObject({ kind: 'allocated', integrityVerified: true });
    if (outcome.kind === 'allocated') expect(outcome.relayedAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('refuses (401) credentials Parley minted whose expiry has passed', async () => {
    // A Parley whose clock runs two hours behind mints credentials that expired an hour ago in real time.
    const behind = await startTestServer({
      env: { ...turnEnv(), PARLEY_TURN_TTL_SECONDS: '3600' },
      clock: { now: () => Date.now() - 2 * 3600_000 },
    });
    try {
      const caller = await newTenantOwner(behind, 'Late Clinic');
      const turn = turnEntry(await iceServers(behind, caller.accessToken));
      expect(Number(turn.username.split(':')[0]) * 1000).toBeLessThan(Date.now());
      expect(
        await allocateRelay({
          host: coturn.host,
          port: coturn.port,
          username: turn.username,
          password: turn.credential,
        }),
      ).toMatchObject({ kind: 'refused', code: 401 });
    } finally {
      await behind.close();
    }
  });

  it('during a secret rotation, a coturn holding the old and the new secret accepts what Parley mints under either', async () => {
    // The coturn of this suite holds the secret the suite's Parley uses (the old one); this one holds both.
    const newSecret = randomBytes(32).toString('hex');
    const rotating = await startCoturn({ extraSecrets: [coturn.secret, newSecret] });
    const rotated = await startTestServer({
      env: {
        PARLEY_TURN_URLS: `turn:${rotating.host}:${String(rotating.port)}?transport=udp`,
        PARLEY_TURN_SECRET: newSecret,
      },
    });
    try {
      const onNew = await newTenantOwner(rotated, 'Rotated Clinic');
      for (const turn of [
        turnEntry(await iceServers(server, owner.accessToken)),
        turnEntry(await iceServers(rotated, onNew.accessToken)),
      ]) {
        const outcome = await allocateRelay({
          host: rotating.host,
          port: rotating.port,
          username: turn.username,
          password: turn.credential,
        });
        expect(outcome, rotating.log()).toMatchObject({ kind: 'allocated', integrityVerified: true });
      }
    } finally {
      await rotated.close();
      await rotating.stop();
    }
  });

  it('refuses (401) a stretched expiry, a credential under another secret, and a made-up handle', async () => {
    const turn = turnEntry(await iceServers(server, owner.accessToken));
    const [expiry, handle] = turn.username.split(':') as [string, string];
    const attempts = [
      // The attacker moves the expiry a year ahead but cannot recompute the HMAC.
      { username: `${String(Number(expiry) + 365 * 86_400)}:${handle}`, password: turn.credential },
      mintTurnCredential('not-the-shared-secret-0123456789abcdef', handle, new Date(Date.now() + 600_000)),
      { username: `${expiry}:someone-else`, password: turn.credential },
    ].map((entry) => ({
      username: entry.username,
      password: 'password' in entry ? entry.password : entry.credential,
    }));
    for (const attempt of attempts) {
      expect(
        await allocateRelay({ host: coturn.host, port: coturn.port, ...attempt }),
        attempt.username,
      ).toMatchObject({ kind: 'refused', code: 401 });
    }
  });
});
