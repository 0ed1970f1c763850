import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import {
  bearer,
  json,
  newTenantOwner,
  ownerPassword,
  postForm,
  type SignedIn,
  signIn,
  tokenRequest,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

describeEachDialect('OAuth 2.0 sign-in, tokens and sessions', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  const clock = { time: Date.now(), now: () => clock.time };

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
    owner = await newTenantOwner(server);
  });

  afterAll(async () => {
    await server.close();
  });

  const memberPassword = 'plum tree under the winter moon';
  async function newMember(email: string, roles = ['member']) {
    const created = await server.request(
      '/v1/users',
      json({ displayName: 'Max Member', email, password: memberPassword, roles }, owner.accessToken),
    );
    expect(created.status, created.text).toBe(201);
    return created.json<{ userId: string }>().userId;
  }

  it('signs in with the password grant and answers /v1/me with the sealed profile opened', async () => {
    const response = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: owner.email,
      password: ownerPassword,
      scope: 'profile chat',
    });
    expect(response.status).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'profile chat' });
    expect(body.access_token).toMatch(/^parley_at_[A-Za-z0-9_-]{64}$/);
    expect(body.refresh_token).toMatch(/^parley_rt_[A-Za-z0-9_-]{64}$/);
    expect(response.headers['cache-control']).toBe('no-store');
    const me = await server.request('/v1/me', bearer(String(body.access_token)));
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({
      email: owner.email,
      displayName: 'Olivia Owner',
      roles: ['owner'],
      mfaEnabled: false,
    });
  });

  it('stores tokens only as hashes', async () => {
    const rows = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx.selectFrom('sessions').selectAll().execute(),
    );
    expect(JSON.stringify(rows)).not.toContain(owner.accessToken);
    expect(JSON.stringify(rows)).not.toContain(owner.refreshToken);
  });

  it('answers unknown user, wrong password and unknown tenant identically (RFC 6749 invalid_grant)', async () => {
    const attempts = [
      { tenant_id: owner.tenantId, username: owner.email, password: 'wrong password entirely' },
      { tenant_id: owner.tenantId, username: 'nobody@acme.example', password: 'wrong password entirely' },
      { tenant_id: '00000000-0000-7000-8000-000000000000', username: owner.email, password: ownerPassword },
    ];
    const bodies = [];
    for (const attempt of attempts) {
      const response = await tokenRequest(server, { grant_type: 'password', ...attempt });
      expect(response.status).toBe(400);
      bodies.push(response.json());
    }
    expect(bodies).toEqual(
      Array(3).fill({ error: 'invalid_grant', error_description: 'Invalid username or password.' }),
    );
  });

  it('refuses an over-long password before hashing, and malformed requests the RFC way', async () => {
    const huge = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: owner.email,
      password: 'x'.repeat(200_000),
    });
    expect(huge.json()).toEqual({ error: 'invalid_request', error_description: 'The password is too long.' });
    const missing = await tokenRequest(server, { grant_type: 'password', tenant_id: owner.tenantId });
    expect(missing.json()).toMatchObject({ error: 'invalid_request' });
    const unsupported = await tokenRequest(server, { grant_type: 'implicit' });
    expect(unsupported.json()).toMatchObject({ error: 'unsupported_grant_type' });
    const badScope = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: owner.email,
      password: ownerPassword,
      scope: 'profile root',
    });
    expect(badScope.json()).toMatchObject({ error: 'invalid_scope' });
    const asJson = await server.request('/oauth/token', json({ grant_type: 'password' }));
    expect(asJson.status).toBe(415);
    expect(asJson.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('rotates refresh tokens; replaying a used one revokes the whole family', async () => {
    const first = await signIn(server, owner.tenantId, owner.email, ownerPassword, 'profile');
    const rotated = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: first.refreshToken,
    });
    expect(rotated.status).toBe(200);
    const second = rotated.json<{ access_token: string; refresh_token: string }>();
    expect(second.refresh_token).not.toBe(first.refreshToken);
    // The access token the refresh replaced no longer works.
    expect((await server.request('/v1/me', bearer(first.accessToken))).status).toBe(401);
    expect((await server.request('/v1/me', bearer(second.access_token))).status).toBe(200);
    // Attack: the old refresh token was stolen and is replayed.
    const replay = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: first.refreshToken,
    });
    expect(replay.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'Refresh token reuse detected; the session was revoked.',
    });
    expect((await server.request('/v1/me', bearer(second.access_token))).status).toBe(401);
    const afterReplay = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: second.refresh_token,
    });
    expect(afterReplay.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('revokes with RFC 7009 and then answers 401 invalid_token', async () => {
    const tokens = await signIn(server, owner.tenantId, owner.email, ownerPassword, 'profile');
    expect((await server.request('/v1/me', bearer(tokens.accessToken))).status).toBe(200);
    const revoked = await postForm(server, '/oauth/revoke', { token: tokens.accessToken });
    expect(revoked.status).toBe(200);
    const after = await server.request('/v1/me', bearer(tokens.accessToken));
    expect(after.status).toBe(401);
    expect(after.json()).toMatchObject({ error: { code: 'invalid_token' } });
    expect(after.headers['www-authenticate']).toContain('error="invalid_token"');
    // Unknown tokens are not an error (RFC 7009 §2.2).
    expect((await postForm(server, '/oauth/revoke', { token: 'parley_at_nonsense' })).status).toBe(200);
  });

  it('refuses forged, expired and idle tokens with 401 invalid_token', async () => {
    const forged = `parley_at_${Buffer.concat([Buffer.from(owner.tenantId.replaceAll('-', ''), 'hex'), Buffer.alloc(32, 7)]).toString('base64url')}`;
    expect((await server.request('/v1/me', bearer(forged))).json()).toMatchObject({
      error: { code: 'invalid_token' },
    });
    expect((await server.request('/v1/me', bearer('parley_at_short'))).status).toBe(401);
    const idle = await signIn(server, owner.tenantId, owner.email, ownerPassword, 'profile');
    const expiring = await signIn(server, owner.tenantId, owner.email, ownerPassword, 'profile');
    clock.time += 10 * 60_000;
    expect((await server.request('/v1/me', bearer(expiring.accessToken))).status).toBe(200);
    clock.time += 6 * 60_000; // idle token: 16 minutes unused, past the 15-minute default
    expect((await server.request('/v1/me', bearer(idle.accessToken))).status).toBe(401);
    clock.time += 50 * 60_000; // expiring token: used 50 minutes ago, but now past its 1-hour lifetime
    expect((await server.request('/v1/me', bearer(expiring.accessToken))).status).toBe(401);
    owner = {
      ...owner,
      ...(await signIn(server, owner.tenantId, owner.email, ownerPassword, 'profile chat calls admin audit')),
    };
  });

  it('refuses a token in the query string, even a valid one', async () => {
    const response = await server.request(`/v1/me?access_token=${owner.accessToken}`);
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'token_in_query' } });
  });

  it('locks an account after repeated failures with growing back-off', async () => {
    const email = 'locky@acme.example';
    await newMember(email);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const failed = await tokenRequest(server, {
        grant_type: 'password',
        tenant_id: owner.tenantId,
        username: email,
        password: 'not the password',
      });
      expect(failed.status).toBe(400);
    }
    const locked = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: email,
      password: memberPassword,
    });
    expect(locked.status).toBe(429);
    expect(locked.json()).toMatchObject({
      error: 'invalid_grant',
      error_description: expect.stringContaining('locked'),
    });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    clock.time += 31_000;
    expect(
      (
        await tokenRequest(server, {
          grant_type: 'password',
          tenant_id: owner.tenantId,
          username: email,
          password: memberPassword,
        })
      ).status,
    ).toBe(200);
    const audit = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx.selectFrom('audit_log').select('action').where('tenant_id', '=', owner.tenantId).execute(),
    );
    const actions = audit.map((row) => row.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'auth.login_failed',
        'auth.account_locked',
        'auth.login_refused_locked',
        'auth.login_succeeded',
      ]),
    );
  });

  it('a password change revokes the other sessions and refuses policy-breaking passwords by rule', async () => {
    const email = 'changer@acme.example';
    await newMember(email);
    const phone = await signIn(server, owner.tenantId, email, memberPassword, 'profile');
    const laptop = await signIn(server, owner.tenantId, email, memberPassword, 'profile');
    const weak = await server.request(
      '/v1/me/password',
      json({ currentPassword: memberPassword, newPassword: 'changer2024' }, laptop.accessToken, 'PUT'),
    );
    expect(weak.status).toBe(400);
    expect(weak.json<{ error: { code: string; message: string } }>().error.message).toMatch(
      /min_length.*contains_personal_info|contains_personal_info.*min_length|min_length/,
    );
    const reused = await server.request(
      '/v1/me/password',
      json({ currentPassword: memberPassword, newPassword: memberPassword }, laptop.accessToken, 'PUT'),
    );
    expect(reused.json<{ error: { message: string } }>().error.message).toContain('reused_password');
    const changed = await server.request(
      '/v1/me/password',
      json(
        { currentPassword: memberPassword, newPassword: 'a quiet lighthouse keeps its lamp' },
        laptop.accessToken,
        'PUT',
      ),
    );
    expect(changed.status).toBe(204);
    expect((await server.request('/v1/me', bearer(phone.accessToken))).status).toBe(401);
    expect((await server.request('/v1/me', bearer(laptop.accessToken))).status).toBe(200);
  });

  it('lists signed-in devices and signs one out', async () => {
    const email = 'devices@acme.example';
    await newMember(email);
    const first = await signIn(server, owner.tenantId, email, memberPassword, 'profile');
    const second = await signIn(server, owner.tenantId, email, memberPassword, 'profile');
    const listed = await server.request('/v1/me/sessions', {
      headers: { authorization: `Bearer ${first.accessToken}`, 'user-agent': 'TestPhone/1.0' },
    });
    const sessions = listed.json<{ sessions: { id: string; current: boolean; device: string | null }[] }>()
      .sessions;
    expect(sessions).toHaveLength(2);
    const other = sessions.find((session) => !session.current);
    expect(other).toBeDefined();
    expect(
      (await server.request(`/v1/me/sessions/${other?.id ?? ''}`, bearer(first.accessToken, 'DELETE')))
        .status,
    ).toBe(204);
    expect((await server.request('/v1/me', bearer(second.accessToken))).status).toBe(401);
    expect((await server.request('/v1/me', bearer(first.accessToken))).status).toBe(200);
  });

  it('throttles credential stuffing: many failures from one address across many accounts', async () => {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      await tokenRequest(server, {
        grant_type: 'password',
        tenant_id: owner.tenantId,
        username: `victim${attempt}@acme.example`,
        password: 'Summer2024!',
      });
    }
    // Even a correct password from that address is now refused until the window passes.
    const blocked = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: owner.email,
      password: ownerPassword,
    });
    expect(blocked.status).toBe(429);
    expect(blocked.json()).toMatchObject({ error_description: expect.stringContaining('this address') });
    clock.time += 16 * 60_000;
    expect(
      (
        await tokenRequest(server, {
          grant_type: 'password',
          tenant_id: owner.tenantId,
          username: owner.email,
          password: ownerPassword,
        })
      ).status,
    ).toBe(200);
  });

  it('records every ended session in the audit log with its reason', async () => {
    const reasons = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx.selectFrom('audit_log').select('details').where('action', '=', 'auth.sessions_revoked').execute(),
    );
    const seen = new Set(reasons.map((row) => (JSON.parse(row.details) as { reason: string }).reason));
    for (const reason of [
      'token_revoked',
      'refresh_token_reuse',
      'idle_timeout',
      'password_changed',
      'signed_out',
    ]) {
      expect(seen, reason).toContain(reason);
    }
  });

  it('attack: a stolen session cannot guess the password through the change-password endpoint', async () => {
    owner = {
      ...owner,
      ...(await signIn(server, owner.tenantId, owner.email, ownerPassword, 'profile chat calls admin audit')),
    };
    const email = 'guessed@acme.example';
    await newMember(email);
    const stolen = await signIn(server, owner.tenantId, email, memberPassword, 'profile');
    const guess = (currentPassword: string) =>
      server.request(
        '/v1/me/password',
        json(
          { currentPassword, newPassword: 'a quiet lighthouse keeps its lamp' },
          stolen.accessToken,
          'PUT',
        ),
      );
    for (let attempt = 0; attempt < 5; attempt += 1)
      expect((await guess(`guess number ${attempt}`)).status).toBe(401);
    const locked = await guess(memberPassword);
    expect(locked.status).toBe(429);
    expect(locked.json()).toMatchObject({ error: { code: 'account_locked' } });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('an idle session cannot be revived by refreshing it later', async () => {
    owner = {
      ...owner,
      ...(await signIn(server, owner.tenantId, owner.email, ownerPassword, 'profile chat calls admin audit')),
    };
    const tokens = await signIn(server, owner.tenantId, owner.email, ownerPassword, 'profile');
    clock.time += 16 * 60_000;
    const refreshed = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refreshToken,
    });
    expect(refreshed.json()).toMatchObject({ error: 'invalid_grant' });
  });
});
