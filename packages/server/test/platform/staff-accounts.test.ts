import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_CHAIN_ID } from '../../src/compliance/audit/audit-entry.ts';
import { hashToken } from '../../src/crypto/token.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json } from '../support/identity-fixtures.ts';
import { ManualClock, newStaff, staffPassword, totpOf } from '../support/staff-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Operator staff accounts (issue 17, point 1): created by the CLI's service call, enrolled with a password and
 * a confirmed TOTP secret, signed in only with both, holding sessions and roles of their own, every step in
 * the platform audit chain — never in a tenant's.
 */
describeEachDialect('operator staff accounts', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock();

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
  });
  afterAll(async () => {
    await server.close();
  });

  const platformEntries = () =>
    server.app.storage.withTenant(PLATFORM_CHAIN_ID, (tx) =>
      server.app.services.audit.query(tx, PLATFORM_CHAIN_ID, {}, { limit: 500, order: 'asc' }),
    );

  describe('enrolment and sign-in', () => {
    const email = 'ada@operator.example';
    let created: Awaited<ReturnType<TestServer['app']['services']['staff']['create']>>;

    beforeAll(async () => {
      created = await server.app.services.staff.create({ email, role: 'support' });
    });

    it('stores neither the enrolment token nor the TOTP secret in the clear', async () => {
      expect(created.enrolmentToken).toMatch(/^parley_se_/);
      const row = await server.app.storage.kysely
        .selectFrom('staff_accounts')
        .selectAll()
        .where('id', '=', created.id)
        .executeTakeFirstOrThrow();
      expect(row.enrolment_hash).toBe(hashToken(created.enrolmentToken));
      expect(JSON.stringify(row)).not.toContain(created.totpSecret);
      expect(JSON.stringify(row)).not.toContain(created.enrolmentToken);
      expect(row).toMatchObject({ role: 'support', password_hash: null, enrolled_at: null });
    });

    it('refuses a sign-in before enrolment, like wrong credentials', async () => {
      const totp = totpOf(created.otpauthUri);
      const response = await server.request(
        '/v1/platform/sessions',
        json({ email, password: staffPassword, code: totp.generate({ timestamp: clock.now() }) }),
      );
      expect(response.status).toBe(401);
      expect(response.json()).toMatchObject({ error: { code: 'invalid_credentials' } });
    });

    it('refuses an enrolment with a wrong code or a short password, and keeps the token usable', async () => {
      const wrongCode = await server.request(
        '/v1/platform/enrolment',
        json({ enrolmentToken: created.enrolmentToken, password: staffPassword, code: '000000' }),
      );
      expect(wrongCode.status).toBe(401);
      expect(wrongCode.json()).toMatchObject({ error: { code: 'invalid_credentials' } });
      const totp = totpOf(created.otpauthUri);
      const short = await server.request(
        '/v1/platform/enrolment',
        json({
          enrolmentToken: created.enrolmentToken,
          password: 'too short',
          code: totp.generate({ timestamp: clock.now() }),
        }),
      );
      expect(short.status).toBe(400);
      expect(short.json()).toMatchObject({ error: { code: 'password_policy' } });
    });

    it('enrols once with the token, a password and a current code; the token is then spent', async () => {
      const totp = totpOf(created.otpauthUri);
      const body = {
        enrolmentToken: created.enrolmentToken,
        password: staffPassword,
        code: totp.generate({ timestamp: clock.now() - 30_000 }),
      };
      const enrolled = await server.request('/v1/platform/enrolment', json(body));
      expect(enrolled.status, enrolled.text).toBe(204);
      const again = await server.request('/v1/platform/enrolment', json(body));
      expect(again.status).toBe(401);
      expect(again.json()).toMatchObject({ error: { code: 'staff_enrolment_invalid' } });
    });

    it('issues no token without a TOTP code: the code is part of every sign-in', async () => {
      const noCode = await server.request('/v1/platform/sessions', json({ email, password: staffPassword }));
      expect(noCode.status).toBe(400);
      const wrongCode = await server.request(
        '/v1/platform/sessions',
        json({ email, password: staffPassword, code: '123456' }),
      );
      expect(wrongCode.status).toBe(401);
      expect(wrongCode.json()).toMatchObject({ error: { code: 'invalid_credentials' } });
      const totp = totpOf(created.otpauthUri);
      const wrongPassword = await server.request(
        '/v1/platform/sessions',
        json({
          email,
          password: 'not the staff password at all',
          code: totp.generate({ timestamp: clock.now() }),
        }),
      );
      expect(wrongPassword.status).toBe(401);
      expect(await server.app.storage.kysely.selectFrom('staff_sessions').selectAll().execute()).toEqual([]);
    });

    it('signs in with password and code, answers an opaque staff token stored only as its hash', async () => {
      const totp = totpOf(created.otpauthUri);
      const code = totp.generate({ timestamp: clock.now() });
      const signedIn = await server.request(
        '/v1/platform/sessions',
        json({ email: 'Ada@Operator.example', password: staffPassword, code }),
      );
      expect(signedIn.status, signedIn.text).toBe(201);
      const { accessToken } = signedIn.json<{ accessToken: string }>();
      expect(accessToken).toMatch(/^parley_st_[A-Za-z0-9_-]{43}$/);
      const sessions = await server.app.storage.kysely.selectFrom('staff_sessions').selectAll().execute();
      expect(sessions.map((row) => row.access_hash)).toEqual([hashToken(accessToken)]);
      expect(JSON.stringify(sessions)).not.toContain(accessToken);
      const me = await server.request('/v1/platform/me', bearer(accessToken));
      expect(me.status).toBe(200);
      expect(me.json()).toMatchObject({ id: created.id, role: 'support' });

      // The same code again is a replay, even with the right password.
      const replay = await server.request(
        '/v1/platform/sessions',
        json({ email, password: staffPassword, code }),
      );
      expect(replay.status).toBe(401);
      expect(replay.json()).toMatchObject({ error: { code: 'mfa_code_reused' } });
    });
  });

  it('refuses an enrolment token after 72 hours', async () => {
    const created = await server.app.services.staff.create({
      email: 'late@operator.example',
      role: 'support',
    });
    clock.advance(72 * 3600_000 + 1);
    const response = await server.request(
      '/v1/platform/enrolment',
      json({
        enrolmentToken: created.enrolmentToken,
        password: staffPassword,
        code: totpOf(created.otpauthUri).generate({ timestamp: clock.now() }),
      }),
    );
    expect(response.status).toBe(401);
    expect(response.json()).toMatchObject({ error: { code: 'staff_enrolment_invalid' } });
  });

  it('refuses a second account with the same e-mail address', async () => {
    await expect(
      server.app.services.staff.create({ email: 'ADA@operator.example', role: 'platform_admin' }),
    ).rejects.toMatchObject({ code: 'conflict' });
  });

  it('gives each role only its routes: listing staff is for platform admins', async () => {
    const support = await newStaff(server, 'support', clock);
    const officer = await newStaff(server, 'security_officer', clock);
    const admin = await newStaff(server, 'platform_admin', clock);
    for (const refused of [support, officer]) {
      const response = await server.request('/v1/platform/staff', bearer(refused.accessToken));
      expect(response.status, refused.role).toBe(403);
      expect(response.json()).toMatchObject({ error: { code: 'forbidden' } });
    }
    const listed = await server.request('/v1/platform/staff', bearer(admin.accessToken));
    expect(listed.status).toBe(200);
    const staff = listed.json<{ staff: { email: string; role: string; enrolled: boolean }[] }>().staff;
    expect(staff).toContainEqual(
      expect.objectContaining({ email: admin.email, role: 'platform_admin', enrolled: true }),
    );
    expect(staff).toContainEqual(
      expect.objectContaining({ email: 'late@operator.example', enrolled: false }),
    );
    expect(listed.text).not.toMatch(/password|totp|enrolment_hash|parley_/);
  });

  it('ends a session at sign-out and after eight hours', async () => {
    const first = await newStaff(server, 'support', clock);
    const out = await server.request('/v1/platform/sessions/current', bearer(first.accessToken, 'DELETE'));
    expect(out.status).toBe(204);
    const afterSignOut = await server.request('/v1/platform/me', bearer(first.accessToken));
    expect(afterSignOut.status).toBe(401);
    expect(afterSignOut.headers['www-authenticate']).toContain('revoked');

    const second = await newStaff(server, 'support', clock);
    clock.advance(8 * 3600_000 - 1000);
    expect((await server.request('/v1/platform/me', bearer(second.accessToken))).status).toBe(200);
    clock.advance(1000);
    const expired = await server.request('/v1/platform/me', bearer(second.accessToken));
    expect(expired.status).toBe(401);
    expect(expired.headers['www-authenticate']).toContain('expired');
  });

  it('locks an address after five failed sign-ins, refusing even the right code until the lock ends', async () => {
    const member = await newStaff(server, 'support', clock);
    clock.advance(30_000);
    for (let attempt = 0; attempt < 5; attempt++) {
      const wrong = await server.request(
        '/v1/platform/sessions',
        json({ email: member.email, password: staffPassword, code: '000000' }),
      );
      expect(wrong.status).toBe(401);
    }
    const right = () =>
      server.request(
        '/v1/platform/sessions',
        json({
          email: member.email,
          password: staffPassword,
          code: member.totp.generate({ timestamp: clock.now() }),
        }),
      );
    const locked = await right();
    expect(locked.status).toBe(429);
    expect(locked.json()).toMatchObject({ error: { code: 'account_locked' } });
    const retryAfter = Number(locked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    clock.advance(retryAfter * 1000);
    expect((await right()).status).toBe(201);
    const { entries } = await platformEntries();
    expect(entries.map((entry) => entry.action)).toContain('staff.sign_in_refused_locked');
  });

  it('re-wraps staff TOTP secrets when the master key rotates, and staff still sign in', async () => {
    const member = await newStaff(server, 'security_officer', clock);
    const { version } = await server.app.security.keyring.rotateMaster();
    const row = await server.app.storage.kysely
      .selectFrom('staff_accounts')
      .select('totp_master_version')
      .where('id', '=', member.id)
      .executeTakeFirstOrThrow();
    expect(row.totp_master_version).toBe(version);
    clock.advance(30_000);
    const again = await server.request(
      '/v1/platform/sessions',
      json({
        email: member.email,
        password: staffPassword,
        code: member.totp.generate({ timestamp: clock.now() }),
      }),
    );
    expect(again.status, again.text).toBe(201);
  });

  it('records every step in the platform audit chain, which verifies, and in no tenant chain', async () => {
    const { entries } = await platformEntries();
    const actions = new Set(entries.map((entry) => entry.action));
    for (const action of [
      'staff.created',
      'staff.enrolled',
      'staff.signed_in',
      'staff.sign_in_failed',
      'staff.signed_out',
    ])
      expect(actions, action).toContain(action);
    const failures = entries.filter((entry) => entry.action === 'staff.sign_in_failed');
    expect(failures.map((entry) => entry.details.reason)).toEqual(
      expect.arrayContaining(['invalid_credentials', 'invalid_code', 'code_reused']),
    );
    expect(JSON.stringify(entries)).not.toContain(staffPassword);
    const verified = await server.app.services.audit.verify(server.app.storage, PLATFORM_CHAIN_ID);
    expect(verified.ok).toBe(true);
    const elsewhere = await server.app.storage.kysely
      .selectFrom('audit_log')
      .select('tenant_id')
      .where('action', 'like', 'staff.%')
      .where('tenant_id', '!=', PLATFORM_CHAIN_ID)
      .execute();
    expect(elsewhere).toEqual([]);
  });
});
