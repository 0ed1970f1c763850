import { MemoryTokenStore, ParleyApiError, ParleyAuthError, ParleyClient, type Tokens } from '@parley/client';
import { TOTP, URI } from 'otpauth';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.ts';
import {
  bearer,
  newTenantOwner,
  ownerPassword,
  postForm,
  type SignedIn,
  tokenRequest,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * The browser/Node SDK against the real server. Attacks: a refresh token copied off the device is replayed
 * after the SDK rotated it (the server must end the session and the SDK must forget its tokens rather than
 * keep retrying); a revoked session is brought back to life by a refresh; a burst of requests after the
 * access token died spends the single-use refresh token more than once (which would look like theft and end
 * the user's session); a token leaks into a URL, and so into logs and proxies.
 */

/** A clock the test moves: past the access token's lifetime, and one TOTP step at a time. */
class MovableClock implements Clock {
  #now = Date.now();
  now(): number {
    return this.#now;
  }
  advanceSeconds(seconds: number): void {
    this.#now += seconds * 1000;
  }
}

/** The server's default access-token lifetime (tenant setting `accessTokenTtlSeconds`). */
/** Set per tenant below: short, so expiring it stays well inside the 15-minute idle timeout. */
const ACCESS_TOKEN_TTL_SECONDS = 60;
const TOTP_STEP_SECONDS = 30;

interface FetchCall {
  url: string;
  body: string;
}

describe('the client SDK against a real server', () => {
  const clock = new MovableClock();
  let server: TestServer;
  let dispatcher: Agent;
  let tenantCount = 0;

  beforeAll(async () => {
    server = await startTestServer({ clock });
    dispatcher = new Agent({ connect: { ca: server.ca, servername: 'localhost' } });
  });

  afterAll(async () => {
    await dispatcher.close();
    await server.close();
  });

  /** An SDK client (not signed in) with its own token store, whose every fetch is recorded. */
  function sdkClient(rewrite?: (url: string, init: RequestInit) => RequestInit) {
    const calls: FetchCall[] = [];
    const store = new MemoryTokenStore();
    // Trusts the test server's self-signed certificate, as an app pinning its server's CA would.
    const recordingFetch = (input: string | URL | Request, init: RequestInit = {}) => {
      const url = input instanceof Request ? input.url : input.toString();
      calls.push({ url, body: typeof init.body === 'string' ? init.body : '' });
      return undiciFetch(url, {
        ...(rewrite ? rewrite(url, init) : init),
        dispatcher,
      } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
    };
    const client = new ParleyClient({ baseUrl: server.url, fetch: recordingFetch, tokenStore: store });
    const refreshCalls = () =>
      calls.filter(
        (call) => call.url.endsWith('/oauth/token') && call.body.includes('grant_type=refresh_token'),
      ).length;
    return { client, store, calls, refreshCalls };
  }

  async function signedInClient(rewrite?: (url: string, init: RequestInit) => RequestInit) {
    const owner = await newTenantOwner(server, `Acme Clinic ${++tenantCount}`);
    const settings = await server.request('/v1/tenant/settings', {
      method: 'PATCH',
      headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS }),
    });
    expect(settings.status).toBe(200);
    const context = { owner, ...sdkClient(rewrite) };
    const result = await passwordSignIn(context.client, context.owner);
    expect(result.mfaRequired).toBe(false);
    return context;
  }

  const storedTokens = (store: MemoryTokenStore): Tokens => {
    const tokens = store.load();
    if (!tokens) throw new Error('the store is empty');
    return tokens;
  };

  /** The access token dies server-side (past its lifetime); the refresh token stays valid. */
  const expireAccessTokens = () => {
    clock.advanceSeconds(ACCESS_TOKEN_TTL_SECONDS + 1);
  };

  /** A code for the next TOTP step, as the user's phone would show it half a minute from now. */
  const nextCode = (totp: TOTP) => {
    clock.advanceSeconds(TOTP_STEP_SECONDS);
    return totp.generate({ timestamp: clock.now() });
  };

  /** A well-formed code that is valid for no step the server accepts right now. */
  const wrongCode = (totp: TOTP) => {
    const valid = new Set(
      [-1, 0, 1].map((step) => totp.generate({ timestamp: clock.now() + step * TOTP_STEP_SECONDS * 1000 })),
    );
    for (let candidate = 0; ; candidate++) {
      const code = String(candidate).padStart(6, '0');
      if (!valid.has(code)) return code;
    }
  };

  const passwordSignIn = (client: ParleyClient, owner: SignedIn) =>
    client.auth.signIn({
      tenantId: owner.tenantId,
      username: owner.email,
      password: ownerPassword,
      scope: 'profile',
    });

  it('signs in with the password grant, form-encoded, and reads, updates and lists the account', async () => {
    const { owner, client, store, calls } = await signedInClient();
    const signIn = calls[0];
    expect(signIn?.url).toBe(`${server.url}/oauth/token`);
    expect(Object.fromEntries(new URLSearchParams(signIn?.body))).toMatchObject({
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: owner.email,
    });
    const tokens = storedTokens(store);
    expect(tokens.refreshToken).toEqual(expect.any(String));
    expect(tokens.scope).toBe('profile');

    const me = await client.account.me();
    expect(me).toMatchObject({ id: owner.userId, tenantId: owner.tenantId, email: owner.email });
    const updated = await client.account.updateMe({ displayName: 'Olivia O.', phone: '+44 20 7946 0000' });
    expect(updated).toMatchObject({ displayName: 'Olivia O.', phone: '+44 20 7946 0000' });
    expect((await client.account.me()).displayName).toBe('Olivia O.');

    const sessions = await client.account.sessions();
    // The fixture's own sign-in and the SDK's: two devices, of which the SDK's is current.
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((session) => session.current)).toMatchObject([{ scopes: ['profile'] }]);

    for (const call of calls) {
      expect(call.url).not.toContain(tokens.accessToken);
      expect(call.url).not.toContain(tokens.refreshToken ?? '\u0000');
    }
  });

  it('refreshes transparently when the access token expired, saving the rotated refresh token', async () => {
    const { client, store, refreshCalls } = await signedInClient();
    const before = storedTokens(store);
    expireAccessTokens();
    const me = await client.account.me();
    expect(me.email).toEqual(expect.any(String));
    const after = storedTokens(store);
    expect(refreshCalls()).toBe(1);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    // The old access token stays dead; the new one works on its own.
    expect((await server.request('/v1/me', bearer(before.accessToken))).status).toBe(401);
    expect((await server.request('/v1/me', bearer(after.accessToken))).status).toBe(200);
  });

  it('a replayed old refresh token ends the session; the SDK then throws invalid_grant and forgets its tokens', async () => {
    const { client, store } = await signedInClient();
    const stolen = storedTokens(store).refreshToken ?? '';
    await client.auth.refresh();
    expect(storedTokens(store).refreshToken).not.toBe(stolen);

    // The thief replays the refresh token the SDK already spent: reuse detection ends the whole family.
    const replay = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: stolen });
    expect(replay.status).toBe(400);
    expect(replay.json()).toMatchObject({ error: 'invalid_grant' });

    // The SDK's access token died with the session; its refresh is refused; it stops and signs out locally.
    const failure = await client.account.me().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ParleyAuthError);
    expect(failure).toMatchObject({ error: 'invalid_grant', status: 400 });
    expect(store.load()).toBeUndefined();
  });

  it('revoking the access token ends the whole session: the SDK cannot refresh it back to life', async () => {
    const { client, store, refreshCalls } = await signedInClient();
    const revoked = await postForm(server, '/oauth/revoke', { token: storedTokens(store).accessToken });
    expect(revoked.status).toBe(200);
    await expect(client.account.me()).rejects.toMatchObject({
      name: 'ParleyAuthError',
      error: 'invalid_grant',
    });
    expect(refreshCalls()).toBe(1);
    expect(store.load()).toBeUndefined();
  });

  it('a burst of requests after the access token died costs exactly one refresh', async () => {
    const { client, store, refreshCalls, calls } = await signedInClient();
    const before = storedTokens(store);
    expireAccessTokens();
    const results = await Promise.all([
      client.account.me(),
      client.account.sessions(),
      client.account.me(),
      client.account.sessions(),
      client.account.me(),
    ]);
    expect(results).toHaveLength(5);
    expect(refreshCalls()).toBe(1);
    // All five went out with the dead token, and each was retried once with the new one.
    const apiCalls = calls.filter((call) => call.url.includes('/v1/me'));
    expect(apiCalls).toHaveLength(10);
    expect(storedTokens(store).refreshToken).not.toBe(before.refreshToken);
  });

  it('retries a request at most once: a second invalid_token is the answer, not another refresh', async () => {
    // Every request to /v1/me goes out with a token the server does not know, however fresh the SDK's is.
    const { client, refreshCalls } = await signedInClient((url, init) =>
      url.endsWith('/v1/me')
        ? {
            ...init,
            headers: {
              ...(init.headers as Record<string, string>),
              authorization: `Bearer ${'x'.repeat(40)}`,
            },
          }
        : init,
    );
    const failure = await client.account.me().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ParleyApiError);
    expect(failure).toMatchObject({ status: 401, code: 'invalid_token' });
    expect(refreshCalls()).toBe(1);
  });

  it('TOTP MFA through the SDK: enrol, sign in with a code or a recovery code, turn it off', async () => {
    const { owner, client } = await signedInClient();
    const enrollment = await client.account.mfa.begin(ownerPassword);
    expect(enrollment.qrSvg).toContain('<svg');
    const totp = URI.parse(enrollment.otpauthUri);
    if (!(totp instanceof TOTP)) throw new Error('not a TOTP URI');
    const recoveryCodes = await client.account.mfa.confirm(nextCode(totp));
    expect(recoveryCodes).toHaveLength(10);
    expect((await client.account.me()).mfaEnabled).toBe(true);

    // Another device: the password alone answers a challenge and stores nothing; a wrong code is refused.
    const device = sdkClient();
    const challenge = await passwordSignIn(device.client, owner);
    if (!challenge.mfaRequired) throw new Error('expected an MFA challenge');
    expect(device.store.load()).toBeUndefined();
    await expect(
      device.client.auth.completeMfa({ mfaToken: challenge.mfaToken, otp: wrongCode(totp) }),
    ).rejects.toMatchObject({ name: 'ParleyAuthError', error: 'invalid_grant', status: 400 });
    const signedIn = await device.client.auth.completeMfa({
      mfaToken: challenge.mfaToken,
      otp: nextCode(totp),
    });
    expect(signedIn.tokens).toEqual(device.store.load());
    expect((await device.client.account.me()).id).toBe(owner.userId);

    // A lost phone: a recovery code completes the sign-in instead.
    const recovering = sdkClient();
    const second = await passwordSignIn(recovering.client, owner);
    if (!second.mfaRequired) throw new Error('expected an MFA challenge');
    await recovering.client.auth.completeMfa({
      mfaToken: second.mfaToken,
      recoveryCode: recoveryCodes[0] ?? '',
    });
    expect((await recovering.client.account.me()).id).toBe(owner.userId);

    await client.account.mfa.disable({ password: ownerPassword, code: nextCode(totp) });
    expect((await client.account.me()).mfaEnabled).toBe(false);
  });

  it('signOut revokes the session on the server (RFC 7009) and clears the store', async () => {
    const { client, store, calls } = await signedInClient();
    const tokens = storedTokens(store);
    await client.auth.signOut();
    expect(store.load()).toBeUndefined();
    const revoke = calls.at(-1);
    expect(revoke?.url).toBe(`${server.url}/oauth/revoke`);
    expect(new URLSearchParams(revoke?.body).get('token')).toBe(tokens.refreshToken);
    expect((await server.request('/v1/me', bearer(tokens.accessToken))).status).toBe(401);
    const refresh = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refreshToken ?? '',
    });
    expect(refresh.json()).toMatchObject({ error: 'invalid_grant' });
    // Signed out, the SDK has no token to send and does not try to refresh.
    await expect(client.account.me()).rejects.toMatchObject({ name: 'ParleyApiError', code: 'unauthorized' });
  });
});
