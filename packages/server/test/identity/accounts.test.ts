import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import {
  bearer,
  json,
  newTenantOwner,
  type SignedIn,
  signIn,
  tokenRequest,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

const password = 'plum tree under the winter moon';

describeEachDialect('accounts: sign-up modes, lookup, deactivation, policy', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Modes Inc');
  });

  afterAll(async () => {
    await server.close();
  });

  const signup = (body: Record<string, unknown>) =>
    server.request(
      `/v1/tenants/${owner.tenantId}/signup`,
      json({
        displayName: 'New Person',
        password,
        acceptedPurposes: [{ key: 'service', version: 1 }],
        ...body,
      }),
    );
  const setMode = (signupMode: string) =>
    server.request('/v1/tenant/settings', json({ signupMode }, owner.accessToken, 'PATCH'));

  it('refuses sign-up in the default admin-created mode', async () => {
    const response = await signup({ email: 'nope@modes.example' });
    expect(response.status).toBe(403);
  });

  it('open mode: anyone signs up as a member and can sign in', async () => {
    expect((await setMode('open')).status).toBe(200);
    const response = await signup({ email: 'open@modes.example' });
    expect(response.status).toBe(201);
    const tokens = await signIn(server, owner.tenantId, 'open@modes.example', password, 'profile');
    expect((await server.request('/v1/me', bearer(tokens.accessToken))).json()).toMatchObject({
      roles: ['member'],
      emailVerified: false,
    });
  });

  it('invite-only mode: only the invited address, only once', async () => {
    await setMode('invite_only');
    const invite = await server.request(
      '/v1/invites',
      json({ email: 'Invited@Modes.example' }, owner.accessToken),
    );
    expect(invite.status).toBe(201);
    const { inviteToken } = invite.json<{ inviteToken: string }>();
    expect((await signup({ email: 'uninvited@modes.example' })).status).toBe(403);
    expect((await signup({ email: 'someone.else@modes.example', inviteToken })).status).toBe(403);
    expect((await signup({ email: 'invited@modes.example', inviteToken })).status).toBe(201);
    expect((await signup({ email: 'invited@modes.example', inviteToken })).status).toBe(410);
  });

  it('looks users up by exact e-mail only (admin)', async () => {
    const found = await server.request('/v1/users?email=OPEN%40modes.example', bearer(owner.accessToken));
    expect(found.json()).toMatchObject({ users: [{ email: 'open@modes.example', status: 'active' }] });
    const partial = await server.request('/v1/users?email=open%40modes', bearer(owner.accessToken));
    expect(partial.status).toBe(400);
    const none = await server.request('/v1/users?email=ghost%40modes.example', bearer(owner.accessToken));
    expect(none.json()).toEqual({ users: [] });
  });

  it('deactivation signs the user out everywhere and refuses sign-in; reactivation restores it', async () => {
    const tokens = await signIn(server, owner.tenantId, 'open@modes.example', password, 'profile');
    const id =
      (await server.request('/v1/users?email=open%40modes.example', bearer(owner.accessToken))).json<{
        users: { id: string }[];
      }>().users[0]?.id ?? '';
    expect(
      (await server.request(`/v1/users/${id}`, json({ status: 'deactivated' }, owner.accessToken, 'PATCH')))
        .status,
    ).toBe(204);
    expect((await server.request('/v1/me', bearer(tokens.accessToken))).status).toBe(401);
    const refused = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: 'open@modes.example',
      password,
    });
    expect(refused.json()).toMatchObject({ error: 'invalid_grant' });
    expect(
      (await server.request(`/v1/users/${id}`, json({ status: 'active' }, owner.accessToken, 'PATCH')))
        .status,
    ).toBe(204);
    expect(
      (
        await tokenRequest(server, {
          grant_type: 'password',
          tenant_id: owner.tenantId,
          username: 'open@modes.example',
          password,
        })
      ).status,
    ).toBe(200);
  });

  it('the password policy is per tenant, validated, audited, and names the broken rule', async () => {
    const invalid = await server.request(
      '/v1/tenant/settings',
      json({ passwordPolicy: { maxLength: 20 } }, owner.accessToken, 'PATCH'),
    );
    expect(invalid.status).toBe(400);
    const changed = await server.request(
      '/v1/tenant/settings',
      json(
        { signupMode: 'open', passwordPolicy: { minLength: 20, requireDigit: true } },
        owner.accessToken,
        'PATCH',
      ),
    );
    expect(changed.json()).toMatchObject({
      passwordPolicy: { minLength: 20, requireDigit: true, maxLength: 128 },
    });
    const refused = await signup({ email: 'strict@modes.example', password: 'short but sweet' });
    expect(refused.status).toBe(400);
    const message = refused.json<{ error: { code: string; message: string } }>().error;
    expect(message.code).toBe('password_policy');
    expect(message.message).toContain('min_length');
    expect(message.message).toContain('composition_digit');
    const common = await signup({ email: 'common@modes.example', password: 'password1234567890123' });
    expect(common.json<{ error: { message: string } }>().error.message).toContain('common_password');
    const personal = await signup({
      email: 'zebediah@modes.example',
      displayName: 'Zebediah Quill',
      password: 'zebediah quill 2024 rocks on',
    });
    expect(personal.json<{ error: { message: string } }>().error.message).toContain('contains_personal_info');
    const entries = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx.selectFrom('audit_log').select('action').where('action', '=', 'tenant.settings_changed').execute(),
    );
    expect(entries.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses a keyboard walk no list holds, saying why, unless the tenant turned the estimate off', async () => {
    const policy = (passwordPolicy: Record<string, unknown>) =>
      server.request(
        '/v1/tenant/settings',
        json({ signupMode: 'open', passwordPolicy }, owner.accessToken, 'PATCH'),
      );
    expect((await policy({ minLength: 12 })).status).toBe(200);
    const walk = 'zaq12wsxcde34rfv';
    const refused = await signup({ email: 'walker@modes.example', password: walk });
    expect(refused.status).toBe(400);
    const error = refused.json<{ error: { code: string; message: string } }>().error;
    expect(error.code).toBe('password_policy');
    expect(error.message).toMatch(/too_guessable \(This password is too easy to guess \(strength \d of 4/);
    expect((await policy({ minLength: 12, minStrengthScore: 0 })).status).toBe(200);
    expect((await signup({ email: 'walker@modes.example', password: walk })).status).toBe(201);
  });

  it('MFA can be required for a role: such users get a profile-only token until they enrol', async () => {
    await server.request(
      '/v1/tenant/settings',
      json(
        { passwordPolicy: { minLength: 12, requireDigit: false, mfaRequiredRoles: ['admin'] } },
        owner.accessToken,
        'PATCH',
      ),
    );
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Ada Admin', email: 'ada@modes.example', password, roles: ['admin'] },
        owner.accessToken,
      ),
    );
    expect(created.status).toBe(201);
    const response = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: 'ada@modes.example',
      password,
      scope: 'profile admin',
    });
    expect(response.json()).toMatchObject({ scope: 'profile', parley_notice: 'mfa_enrollment_required' });
  });

  it('custom roles grant their permissions; changing a role or a user’s roles takes effect at once', async () => {
    expect(
      (
        await server.request(
          '/v1/roles/auditor',
          json({ permissions: ['profile.read', 'audit.read'] }, owner.accessToken, 'PUT'),
        )
      ).status,
    ).toBe(204);
    expect(
      (await server.request('/v1/roles/admin', json({ permissions: [] }, owner.accessToken, 'PUT'))).status,
    ).toBe(409);
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Aud Itor', email: 'auditor@modes.example', password, roles: ['auditor'] },
        owner.accessToken,
      ),
    );
    expect(created.status).toBe(201);
    const userId = created.json<{ userId: string }>().userId;
    const token = (await signIn(server, owner.tenantId, 'auditor@modes.example', password, 'profile audit'))
      .accessToken;
    expect((await server.request('/v1/audit?limit=1', bearer(token))).status).toBe(200);
    // The role loses the permission: the very next request with the same (cached) token is refused.
    await server.request(
      '/v1/roles/auditor',
      json({ permissions: ['profile.read'] }, owner.accessToken, 'PUT'),
    );
    expect((await server.request('/v1/audit?limit=1', bearer(token))).status).toBe(403);
    // Roles of a user change: likewise.
    await server.request(
      `/v1/users/${userId}/roles`,
      json({ roles: ['compliance_officer'] }, owner.accessToken, 'PUT'),
    );
    expect((await server.request('/v1/audit?limit=1', bearer(token))).status).toBe(200);
    const changes = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .selectFrom('audit_log')
        .select('action')
        .where('action', 'in', ['role.defined', 'user.roles_changed'])
        .execute(),
    );
    expect(changes.length).toBeGreaterThanOrEqual(3);
  });

  // Found by the OpenAPI fuzz test: a role listed twice broke the user_roles primary key (500).
  it('refuses a role listed twice with 400 validation_failed when creating, inviting or changing roles', async () => {
    const twice = ['member', 'member'];
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Dee Duplicate', email: 'dee@modes.example', password, roles: twice },
        owner.accessToken,
      ),
    );
    expect(created.status).toBe(400);
    expect(created.json()).toMatchObject({ error: { code: 'validation_failed' } });
    const invited = await server.request(
      '/v1/invites',
      json({ email: 'dan@modes.example', roles: twice }, owner.accessToken),
    );
    expect(invited.status).toBe(400);
    expect(invited.json()).toMatchObject({ error: { code: 'validation_failed' } });
    const changed = await server.request(
      `/v1/users/${owner.userId}/roles`,
      json({ roles: ['owner', 'admin', 'admin'] }, owner.accessToken, 'PUT'),
    );
    expect(changed.status).toBe(400);
    expect(changed.json()).toMatchObject({ error: { code: 'validation_failed' } });
  });

  it('attack: an admin cannot deactivate the owner (locking the owners out of their tenant)', async () => {
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Adam Admin', email: 'adam@modes.example', password, roles: ['admin'] },
        owner.accessToken,
      ),
    );
    expect(created.status).toBe(201);
    // Admin sign-in may require MFA by an earlier test's policy; an admin-scoped token is all we need.
    await server.request(
      '/v1/tenant/settings',
      json({ passwordPolicy: { mfaRequiredRoles: [] } }, owner.accessToken, 'PATCH'),
    );
    const admin = await signIn(server, owner.tenantId, 'adam@modes.example', password, 'profile admin');
    const refused = await server.request(
      `/v1/users/${owner.userId}`,
      json({ status: 'deactivated' }, admin.accessToken, 'PATCH'),
    );
    expect(refused.status).toBe(403);
    expect((await server.request('/v1/me', bearer(owner.accessToken))).status).toBe(200);
  });

  it('attack: an admin cannot grant themselves owner-only permissions through a custom role', async () => {
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Eve Admin', email: 'eve@modes.example', password, roles: ['admin'] },
        owner.accessToken,
      ),
    );
    expect(created.status).toBe(201);
    const eve = await signIn(server, owner.tenantId, 'eve@modes.example', password, 'profile admin');
    const role = await server.request(
      '/v1/roles/superuser',
      json({ permissions: ['tenant.manage'] }, eve.accessToken, 'PUT'),
    );
    expect(role.status).toBe(403);
    // Nor by being given an owner-made role that holds them.
    await server.request(
      '/v1/roles/settings_keeper',
      json({ permissions: ['tenant.manage'] }, owner.accessToken, 'PUT'),
    );
    const eveId = created.json<{ userId: string }>().userId;
    const selfGrant = await server.request(
      `/v1/users/${eveId}/roles`,
      json({ roles: ['admin', 'settings_keeper'] }, eve.accessToken, 'PUT'),
    );
    expect(selfGrant.status).toBe(403);
    expect(
      (await server.request('/v1/tenant/settings', json({ signupMode: 'open' }, eve.accessToken, 'PATCH')))
        .status,
    ).toBe(403);
  });

  it("attack: an admin cannot strip the owner's MFA", async () => {
    const eve = await signIn(server, owner.tenantId, 'eve@modes.example', password, 'profile admin');
    const refused = await server.request(`/v1/users/${owner.userId}/mfa`, bearer(eve.accessToken, 'DELETE'));
    expect(refused.status).toBe(403);
  });
});
