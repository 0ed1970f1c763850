import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import {
  bearer,
  json,
  newTenantOwner,
  postForm,
  type SignedIn,
  tokenRequest,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

describeEachDialect('client_credentials and introspection', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let client: { clientId: string; clientSecret: string };

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Server Side Ltd');
    const created = await server.request(
      '/v1/clients',
      json({ name: 'backend', scopes: ['admin', 'chat'] }, owner.accessToken),
    );
    expect(created.status).toBe(201);
    client = created.json();
  });

  afterAll(async () => {
    await server.close();
  });

  it('stores the client secret only hashed', async () => {
    const rows = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx.selectFrom('oauth_clients').selectAll().execute(),
    );
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(client.clientSecret);
  });

  it('issues an access token (no refresh token) for valid client credentials in Basic auth', async () => {
    const basic = Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64');
    const response = await server.request('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
      body: 'grant_type=client_credentials&scope=admin',
    });
    expect(response.status).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'admin' });
    expect(body.refresh_token).toBeUndefined();
    // The tenant's server acts for the tenant: it may create users.
    const created = await server.request(
      '/v1/users',
      json(
        {
          displayName: 'Provisioned',
          email: 'prov@server.example',
          password: 'plum tree under the winter moon',
          roles: ['member'],
        },
        String(body.access_token),
      ),
    );
    expect(created.status).toBe(201);
  });

  it('refuses a wrong secret (401 invalid_client) and a scope the client was not given', async () => {
    const wrong = await tokenRequest(server, {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: 'parley_cs_wrong',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.json()).toMatchObject({ error: 'invalid_client' });
    const scope = await tokenRequest(server, {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: client.clientSecret,
      scope: 'audit',
    });
    expect(scope.json()).toMatchObject({ error: 'invalid_scope' });
  });

  it('introspects tokens of its own tenant (RFC 7662) and reports others inactive', async () => {
    const token = (
      await tokenRequest(server, {
        grant_type: 'client_credentials',
        client_id: client.clientId,
        client_secret: client.clientSecret,
      })
    ).json<{ access_token: string }>().access_token;
    const introspect = (subject: string) =>
      server.request('/oauth/introspect', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${token}` },
        body: new URLSearchParams({ token: subject }).toString(),
      });
    const active = await introspect(owner.accessToken);
    expect(active.json()).toMatchObject({
      active: true,
      sub: owner.userId,
      parley_tenant_id: owner.tenantId,
    });
    const stranger = await newTenantOwner(server, 'Stranger');
    expect((await introspect(stranger.accessToken)).json()).toEqual({ active: false });
    await postForm(server, '/oauth/revoke', { token: owner.accessToken });
    expect((await introspect(owner.accessToken)).json()).toEqual({ active: false });
    expect((await server.request('/v1/me', bearer(owner.accessToken))).status).toBe(401);
  });
});
