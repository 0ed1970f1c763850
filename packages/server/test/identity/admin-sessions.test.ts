import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import {
  bearer,
  json,
  memberPassword,
  newMember,
  newTenantOwner,
  type SignedIn,
  signIn,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * An admin sees a user's signed-in devices and ends one (a lost laptop): the token stops working at once, the
 * user's other device keeps working, and the audit log names the admin. Attacks tried: a member listing or
 * ending someone's sessions (403), an admin naming another tenant's user or session (404).
 */
interface SessionList {
  sessions: { id: string; current: boolean; scopes: string[]; device: string | null }[];
}

describeEachDialect('admin: a user’s sessions and the custom roles list', (dialect) => {
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
