import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import {
  bearer,
  json,
  tokenRequest,
  memberPassword,
  newMember,
  newTenantOwner,
  type SignedIn,
  signIn,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * The admin routes behind the console's pages. An admin sees a user's signed-in devices and ends one (a lost
 * laptop): the token stops working at once, the user's other device keeps working, and the audit log names the
 * admin. OAuth clients are listed without secrets; a rotated secret or a deleted client ends the client's
 * tokens. A custom role is deleted only once nobody holds it. Attacks tried: a member listing or ending someone's
 * sessions (403), an admin naming another tenant's user, session or client (404), a leaked client secret used
 * after rotation, a token got with it used after rotation.
 */
interface SessionList {
  sessions: { id: string; current: boolean; scopes: string[]; device: string | null }[];
}

describeEachDialect('admin console routes: a user’s sessions, custom roles, OAuth clients', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let other: SignedIn;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Sessions Admin Inc');
    other = await newTenantOwner(server, 'Elsewhere Ltd');
  });

  afterAll(async () => {
    await server.close();
  });

  it('lists a user’s sessions and ends one: that token is refused, the other device keeps working', async () => {
    const email = `laptop-${Date.now()}@sessions.example`;
    const member = await newMember(server, owner, email);
    const phone = await signIn(server, owner.tenantId, email, memberPassword, 'profile chat');

    const listed = await server.request(`/v1/users/${member.userId}/sessions`, bearer(owner.accessToken));
    expect(listed.status).toBe(200);
    const { sessions } = listed.json<SessionList>();
    expect(sessions).toHaveLength(2);
    expect(sessions.every((session) => !session.current)).toBe(true);
    expect(sessions[0]?.scopes).toEqual(['profile', 'chat']);

    // Which row is the laptop's: the one the phone's token does not name as current.
    const mine = await server.request('/v1/me/sessions', bearer(phone.accessToken));
    const phoneId = mine.json<SessionList>().sessions.find((session) => session.current)?.id;
    const laptopId = sessions.find((session) => session.id !== phoneId)?.id ?? '';
    expect(laptopId).not.toBe('');

    const ended = await server.request(
      `/v1/users/${member.userId}/sessions/${laptopId}`,
      bearer(owner.accessToken, 'DELETE'),
    );
    expect(ended.status).toBe(204);
    expect((await server.request('/v1/me', bearer(member.token))).status).toBe(401);
    expect((await server.request('/v1/me', bearer(phone.accessToken))).status).toBe(200);
    const after = await server.request(`/v1/users/${member.userId}/sessions`, bearer(owner.accessToken));
    expect(after.json<SessionList>().sessions.map((session) => session.id)).toEqual([phoneId]);

    // Ending it again: it is no longer live.
    const again = await server.request(
      `/v1/users/${member.userId}/sessions/${laptopId}`,
      bearer(owner.accessToken, 'DELETE'),
    );
    expect(again.status).toBe(404);

    const audit = await server.request('/v1/audit?action=auth.sessions_revoked', bearer(owner.accessToken));
    expect(JSON.stringify(audit.json())).toContain('revoked_by_admin');
    expect(JSON.stringify(audit.json())).toContain(laptopId);
    expect(JSON.stringify(audit.json())).toContain(owner.userId);
  });

  it('lets only an owner end an owner’s session: an admin is refused (403) and the owner stays signed in', async () => {
    const email = `admin-${Date.now()}@sessions.example`;
    await server.request(
      '/v1/users',
      json(
        { displayName: 'Ada Admin', email, password: memberPassword, roles: ['admin'] },
        owner.accessToken,
      ),
    );
    const admin = await signIn(server, owner.tenantId, email, memberPassword, 'profile admin');
    const listed = await server.request(`/v1/users/${owner.userId}/sessions`, bearer(admin.accessToken));
    expect(listed.status).toBe(200);
    const ownerSession = listed.json<SessionList>().sessions[0]?.id ?? '';
    const refused = await server.request(
      `/v1/users/${owner.userId}/sessions/${ownerSession}`,
      bearer(admin.accessToken, 'DELETE'),
    );
    expect(refused.status).toBe(403);
    expect((await server.request('/v1/me', bearer(owner.accessToken))).status).toBe(200);
  });

  it('refuses a member (403) and another tenant’s user or session (404)', async () => {
    const member = await newMember(server, owner, `nosy-${Date.now()}@sessions.example`, 'profile admin');
    expect((await server.request(`/v1/users/${owner.userId}/sessions`, bearer(member.token))).status).toBe(
      403,
    );

    expect(
      (await server.request(`/v1/users/${other.userId}/sessions`, bearer(owner.accessToken))).status,
    ).toBe(404);
    const theirs = await server.request('/v1/me/sessions', bearer(other.accessToken));
    const theirId = theirs.json<SessionList>().sessions[0]?.id ?? '';
    const crossed = await server.request(
      `/v1/users/${other.userId}/sessions/${theirId}`,
      bearer(owner.accessToken, 'DELETE'),
    );
    expect(crossed.status).toBe(404);
    expect((await server.request('/v1/me', bearer(other.accessToken))).status).toBe(200);
    // Their session named under one of our own users is not ours either.
    const mixed = await server.request(
      `/v1/users/${owner.userId}/sessions/${theirId}`,
      bearer(owner.accessToken, 'DELETE'),
    );
    expect(mixed.status).toBe(404);
    expect((await server.request('/v1/me', bearer(other.accessToken))).status).toBe(200);
  });

  const grant = (clientId: string, clientSecret: string) =>
    tokenRequest(server, {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    });

  it('lists clients without secrets; a rotation refuses the old secret and ends its tokens; a deletion ends the client', async () => {
    const created = await server.request(
      '/v1/clients',
      json({ name: 'Billing sync', scopes: ['chat', 'admin'] }, owner.accessToken),
    );
    const { clientId, clientSecret } = created.json<{ clientId: string; clientSecret: string }>();
    const early = (await grant(clientId, clientSecret)).json<{ access_token: string }>().access_token;
    expect((await server.request('/v1/clients', bearer(early))).status).toBe(403); // a client is no admin user
    expect((await server.request('/v1/users?email=nobody@sessions.example', bearer(early))).status).toBe(200);

    const listed = await server.request('/v1/clients', bearer(owner.accessToken));
    expect(listed.status).toBe(200);
    expect(listed.json()).toEqual({
      clients: [{ clientId, name: 'Billing sync', scopes: ['chat', 'admin'], createdAt: expect.any(String) }],
    });
    expect(listed.text).not.toContain(clientSecret);

    const rotated = await server.request(`/v1/clients/${clientId}/secret`, bearer(owner.accessToken, 'POST'));
    expect(rotated.status).toBe(200);
    expect(rotated.headers['cache-control']).toBe('no-store');
    const fresh = rotated.json<{ clientSecret: string }>().clientSecret;
    expect(fresh).not.toBe(clientSecret);
    expect((await grant(clientId, clientSecret)).status).toBe(401);
    expect((await server.request('/v1/users?email=nobody@sessions.example', bearer(early))).status).toBe(401);
    const current = await grant(clientId, fresh);
    expect(current.status).toBe(200);
    const later = current.json<{ access_token: string }>().access_token;
    expect((await server.request('/v1/users?email=nobody@sessions.example', bearer(later))).status).toBe(200);

    // Another tenant cannot rotate or delete it, and ours cannot touch theirs.
    expect(
      (await server.request(`/v1/clients/${clientId}`, bearer(other.accessToken, 'DELETE'))).status,
    ).toBe(404);
    const theirs = await server.request(
      '/v1/clients',
      json({ name: 'Theirs', scopes: ['chat'] }, other.accessToken),
    );
    const theirId = theirs.json<{ clientId: string }>().clientId;
    expect(
      (await server.request(`/v1/clients/${theirId}/secret`, bearer(owner.accessToken, 'POST'))).status,
    ).toBe(404);
    expect((await server.request(`/v1/clients/${theirId}`, bearer(owner.accessToken, 'DELETE'))).status).toBe(
      404,
    );
    expect((await server.request('/v1/clients', bearer(other.accessToken))).json()).toMatchObject({
      clients: [{ clientId: theirId }],
    });

    expect(
      (await server.request(`/v1/clients/${clientId}`, bearer(owner.accessToken, 'DELETE'))).status,
    ).toBe(204);
    expect((await grant(clientId, fresh)).status).toBe(401);
    expect((await server.request('/v1/users?email=nobody@sessions.example', bearer(later))).status).toBe(401);
    expect((await server.request('/v1/clients', bearer(owner.accessToken))).json()).toEqual({ clients: [] });
    expect(
      (await server.request(`/v1/clients/${clientId}/secret`, bearer(owner.accessToken, 'POST'))).status,
    ).toBe(404);

    const audit = JSON.stringify(
      (await server.request('/v1/audit?limit=50', bearer(owner.accessToken))).json(),
    );
    expect(audit).toContain('client.secret_rotated');
    expect(audit).toContain('client.deleted');
  });

  it('deletes a custom role only once nobody holds it', async () => {
    const put = (name: string) =>
      server.request(`/v1/roles/${name}`, json({ permissions: ['users.read'] }, owner.accessToken, 'PUT'));
    expect((await put('temp_desk')).status).toBe(204);
    const member = await newMember(server, owner, `temp-${Date.now()}@sessions.example`);
    const assign = (roles: string[]) =>
      server.request(`/v1/users/${member.userId}/roles`, json({ roles }, owner.accessToken, 'PUT'));
    expect((await assign(['member', 'temp_desk'])).status).toBe(204);

    const held = await server.request('/v1/roles/temp_desk', bearer(owner.accessToken, 'DELETE'));
    expect(held.status).toBe(409);
    expect(held.json<{ error: { code: string } }>().error.code).toBe('conflict');

    expect((await assign(['member'])).status).toBe(204);
    expect((await server.request('/v1/roles/temp_desk', bearer(owner.accessToken, 'DELETE'))).status).toBe(
      204,
    );
    const roles = await server.request('/v1/roles', bearer(owner.accessToken));
    expect(roles.json<{ roles: { name: string }[] }>().roles.map((role) => role.name)).not.toContain(
      'temp_desk',
    );
    expect((await server.request('/v1/roles/temp_desk', bearer(owner.accessToken, 'DELETE'))).status).toBe(
      404,
    );
    // The name is free again, and gone from the audit trail it is not.
    const audit = JSON.stringify(
      (await server.request('/v1/audit?limit=50', bearer(owner.accessToken))).json(),
    );
    expect(audit).toContain('role.deleted');
  });

  it('lists the tenant’s custom roles with their permissions, and no other tenant’s', async () => {
    const defined = await server.request(
      '/v1/roles/night_desk',
      json({ permissions: ['users.read', 'audit.read'] }, owner.accessToken, 'PUT'),
    );
    expect(defined.status).toBe(204);
    await server.request(
      '/v1/roles/their_role',
      json({ permissions: ['users.read'] }, other.accessToken, 'PUT'),
    );

    const listed = await server.request('/v1/roles', bearer(owner.accessToken));
    expect(listed.status).toBe(200);
    expect(listed.json()).toEqual({
      roles: [{ name: 'night_desk', permissions: ['users.read', 'audit.read'] }],
    });
  });
});
