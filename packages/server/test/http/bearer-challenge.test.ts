import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, newMember, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * RFC 6750 §3: a protected resource answers a refused bearer request with a `WWW-Authenticate: Bearer`
 * challenge a client can act on. No credentials: the bare challenge, no error (§3.1: the request simply
 * lacked authentication). A token that is malformed, unknown, expired or revoked: `error="invalid_token"`
 * with a description, so the client knows to refresh or sign in again. A valid token without the route's
 * scope: 403 with `error="insufficient_scope"` and the `scope` it needs.
 */
describe('WWW-Authenticate follows RFC 6750', () => {
  const clock = { time: Date.now(), now: () => clock.time };
  let server: TestServer;
  let owner: SignedIn;

  beforeAll(async () => {
    server = await startTestServer({ clock });
    owner = await newTenantOwner(server);
  });

  afterAll(async () => {
    await server.close();
  });

  const challenge = async (headers: Record<string, string>) => {
    const response = await server.request('/v1/me', { headers });
    return { status: response.status, header: response.headers['www-authenticate'], body: response.json() };
  };
  const invalidToken = (description: string) =>
    `Bearer realm="parley", error="invalid_token", error_description="${description}"`;

  it('a request without credentials gets the bare challenge, without an error attribute', async () => {
    expect(await challenge({})).toMatchObject({
      status: 401,
      header: 'Bearer realm="parley"',
      body: { error: { code: 'unauthorized' } },
    });
    // Credentials of another scheme are no bearer token either.
    expect(await challenge({ authorization: 'Basic dXNlcjpwYXNz' })).toMatchObject({
      status: 401,
      header: 'Bearer realm="parley"',
    });
  });

  it('a malformed or unknown token gets error="invalid_token" with a description', async () => {
    expect(await challenge({ authorization: 'Bearer not a token!' })).toEqual({
      status: 401,
      header: invalidToken('The access token is malformed.'),
      body: {
        error: expect.objectContaining({ code: 'invalid_token', message: 'The access token is malformed.' }),
      },
    });
    const unknown = `${owner.accessToken.slice(0, -6)}AAAAAA`;
    expect(await challenge({ authorization: `Bearer ${unknown}` })).toMatchObject({
      status: 401,
      header: invalidToken('The access token is not valid.'),
    });
  });

  it('a revoked token gets error="invalid_token" saying it was revoked', async () => {
    const member = await newMember(server, owner, 'revoked@acme.example');
    const signOut = await server.request('/v1/me/sessions', bearer(member.token, 'DELETE'));
    expect(signOut.status).toBeLessThan(300);
    expect(await challenge({ authorization: `Bearer ${member.token}` })).toMatchObject({
      status: 401,
      header: invalidToken('The access token was revoked.'),
      body: { error: { code: 'invalid_token' } },
    });
  });

  it('a token without the scope gets 403 with error="insufficient_scope" and the scope needed', async () => {
    const member = await newMember(server, owner, 'scoped@acme.example', 'profile');
    const response = await server.request('/v1/dialogs', bearer(member.token));
    expect(response.status).toBe(403);
    expect(response.headers['www-authenticate']).toBe(
      'Bearer realm="parley", error="insufficient_scope", ' +
        'error_description="The access token lacks the scope this request needs.", scope="chat"',
    );
    expect(response.json()).toMatchObject({ error: { code: 'insufficient_scope' } });
  });

  // Last: moving the clock ends every token of this server.
  it('an expired token gets error="invalid_token" saying it expired', async () => {
    const member = await newMember(server, owner, 'expired@acme.example');
    clock.time += 3601_000;
    expect(await challenge({ authorization: `Bearer ${member.token}` })).toMatchObject({
      status: 401,
      header: invalidToken('The access token expired.'),
    });
  });
});
