import { TOTP, URI } from 'otpauth';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.ts';
import { MFA_GRANT } from '../../src/identity/oauth/oauth-routes.ts';
import { describeEachDialect } from '../support/dialects.ts';
import {
  bearer,
  json,
  newTenantOwner,
  ownerPassword,
  signIn,
  type SignedIn,
  tokenRequest,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Attacks: someone who phished one TOTP code replays it; someone holding the password guesses codes (with
 * one MFA token, or minting a fresh token for every guess); someone with a stolen session tries to strip
 * MFA without the password or a code; an administrator of one tenant resets a user of another; someone
 * who copied the database reads the TOTP secret or the recovery codes.
 */

/** A clock the test moves: one TOTP step (30 s) at a time, so every code is for a step not seen before. */
class SteppingClock implements Clock {
  #now = Date.now();
  now(): number {
    return this.#now;
  }
  advanceSeconds(seconds: number): void {
    this.#now += seconds * 1000;
  }
}

const TOTP_STEP_SECONDS = 30;
const RECOVERY_CODE = /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/;

interface Enrolled {
  totp: TOTP;
  recoveryCodes: string[];
}

describeEachDialect('TOTP MFA over the API', (dialect) => {
  const clock = new SteppingClock();
  let server: TestServer;
  let tenantCount = 0;

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
  });

  afterAll(async () => {
    await server.close();
  });

  const freshOwner = () => newTenantOwner(server, `Acme Clinic ${++tenantCount}`);

  /** A code for the next TOTP step, as the user's phone would show it half a minute from now. */
  function nextCode(totp: TOTP): string {
    clock.advanceSeconds(TOTP_STEP_SECONDS);
    return totp.generate({ timestamp: clock.now() });
  }

  /** A well-formed code that is valid for no step the server accepts right now. */
  function wrongCode(totp: TOTP): string {
    const valid = new Set(
      [-1, 0, 1].map((step) => totp.generate({ timestamp: clock.now() + step * TOTP_STEP_SECONDS * 1000 })),
    );
    for (let candidate = 0; ; candidate++) {
      const code = String(candidate).padStart(6, '0');
      if (!valid.has(code)) return code;
    }
  }

  async function enrol(user: SignedIn, password = ownerPassword): Promise<Enrolled> {
    const begun = await server.request('/v1/me/mfa/totp', json({ password }, user.accessToken));
    expect(begun.status).toBe(201);
    const { otpauthUri } = begun.json<{ otpauthUri: string }>();
    const totp = URI.parse(otpauthUri);
    if (!(totp instanceof TOTP)) throw new Error('not a TOTP URI');
    const confirmed = await server.request(
      '/v1/me/mfa/totp/confirm',
      json({ code: totp.generate({ timestamp: clock.now() }) }, user.accessToken),
    );
    expect(confirmed.status).toBe(200);
    return { totp, recoveryCodes: confirmed.json<{ recoveryCodes: string[] }>().recoveryCodes };
  }

  const passwordGrant = (user: SignedIn, password = ownerPassword, scope = 'profile') =>
    tokenRequest(server, {
      grant_type: 'password',
      tenant_id: user.tenantId,
      username: user.email,
      password,
      scope,
    });

  async function mfaToken(user: SignedIn, scope = 'profile'): Promise<string> {
    const response = await passwordGrant(user, ownerPassword, scope);
    expect(response.status).toBe(403);
    expect(response.json()).toMatchObject({ error: 'mfa_required', mfa_token: expect.any(String) });
    return response.json<{ mfa_token: string }>().mfa_token;
  }

  const mfaGrant = (token: string, factor: { otp: string } | { recovery_code: string }) =>
    tokenRequest(server, { grant_type: MFA_GRANT, mfa_token: token, ...factor });

  /** Signs in with the password and the next TOTP code; answers the access token. */
  async function signInWithMfa(user: SignedIn, totp: TOTP, scope = 'profile'): Promise<string> {
    const response = await mfaGrant(await mfaToken(user, scope), { otp: nextCode(totp) });
    expect(response.status).toBe(200);
    return response.json<{ access_token: string }>().access_token;
  }

  const userRow = (user: { tenantId: string; userId: string }) =>
    server.app.storage.withTenant(user.tenantId, (tx) =>
      tx
        .selectFrom('users')
        .selectAll()
        .where('tenant_id', '=', user.tenantId)
        .where('id', '=', user.userId)
        .executeTakeFirstOrThrow(),
    );

  const auditEntries = (tenantId: string) =>
    server.app.storage.withTenant(tenantId, (tx) =>
      tx
        .selectFrom('audit_log')
        .select(['action', 'outcome', 'actor_id', 'target_id', 'details'])
        .where('tenant_id', '=', tenantId)
        .orderBy('seq')
        .execute(),
    );

  it('enrolment answers an otpauth URI and a QR code; MFA is on only once a code confirms it', async () => {
    const owner = await freshOwner();
    const begun = await server.request(
      '/v1/me/mfa/totp',
      json({ password: ownerPassword }, owner.accessToken),
    );
    expect(begun.status).toBe(201);
    const body = begun.json<{ otpauthUri: string; qrSvg: string }>();
    expect(Object.keys(body).sort()).toEqual(['otpauthUri', 'qrSvg']);
    expect(body.qrSvg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    const totp = URI.parse(body.otpauthUri);
    expect(totp).toBeInstanceOf(TOTP);
    // What every common authenticator app accepts: SHA-1, six digits, 30 s.
    expect(totp).toMatchObject({
      issuer: `Acme Clinic ${tenantCount}`,
      label: owner.email,
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
    });
    if (!(totp instanceof TOTP)) return;

    // Not yet confirmed: the password alone still signs in.
    expect((await passwordGrant(owner)).status).toBe(200);

    const wrong = await server.request(
      '/v1/me/mfa/totp/confirm',
      json({ code: wrongCode(totp) }, owner.accessToken),
    );
    expect(wrong.status).toBe(401);
    expect(wrong.json()).toMatchObject({ error: { code: 'invalid_credentials' } });

    const confirmCode = totp.generate({ timestamp: clock.now() });
    const confirmed = await server.request(
      '/v1/me/mfa/totp/confirm',
      json({ code: confirmCode }, owner.accessToken),
    );
    expect(confirmed.status).toBe(200);
    const { recoveryCodes } = confirmed.json<{ recoveryCodes: string[] }>();
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const code of recoveryCodes) expect(code).toMatch(RECOVERY_CODE);

    const me = await server.request('/v1/me', bearer(owner.accessToken));
    expect(me.json()).toMatchObject({ mfaEnabled: true });
    const again = await server.request(
      '/v1/me/mfa/totp',
      json({ password: ownerPassword }, owner.accessToken),
    );
    expect(again.status).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'conflict' } });

    // The code that confirmed enrolment cannot also sign anyone in.
    expect((await mfaGrant(await mfaToken(owner), { otp: confirmCode })).status).toBe(400);

    const entries = await auditEntries(owner.tenantId);
    expect(entries).toContainEqual(
      expect.objectContaining({ action: 'auth.mfa_enrollment_failed', outcome: 'failure' }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({
        action: 'auth.mfa_enabled',
        outcome: 'success',
        actor_id: owner.userId,
        target_id: owner.userId,
      }),
    );
  });

  it('keeps the TOTP secret sealed and the recovery codes hashed at rest', async () => {
    const owner = await freshOwner();
    const { totp, recoveryCodes } = await enrol(owner);
    const row = await userRow(owner);
    expect(row.totp_secret).toMatch(/^pf1\.u\./);
    expect(row.totp_pending_secret).toBeNull();
    expect(row.totp_enabled_at).toEqual(expect.any(Number));
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(totp.secret.base32);
    for (const code of recoveryCodes) {
      expect(stored).not.toContain(code);
      expect(stored).not.toContain(code.replaceAll('-', ''));
    }
    const hashes = JSON.parse(row.recovery_codes ?? '[]') as string[];
    expect(hashes).toHaveLength(10);
    for (const hash of hashes) expect(hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the password grant then answers mfa_required, and a TOTP code completes the sign-in', async () => {
    const owner = await freshOwner();
    const { totp } = await enrol(owner);
    const token = await mfaToken(owner, 'profile chat');
    const signedIn = await mfaGrant(token, { otp: nextCode(totp) });
    expect(signedIn.status).toBe(200);
    expect(signedIn.json()).toMatchObject({ token_type: 'Bearer', scope: 'profile chat' });
    const access = signedIn.json<{ access_token: string }>().access_token;
    expect((await server.request('/v1/me', bearer(access))).status).toBe(200);
    // An MFA token is single-use.
    expect((await mfaGrant(token, { otp: nextCode(totp) })).status).toBe(400);
  });

  it('never accepts the same TOTP code twice, not even with a fresh MFA token', async () => {
    const owner = await freshOwner();
    const { totp } = await enrol(owner);
    const code = nextCode(totp);
    expect((await mfaGrant(await mfaToken(owner), { otp: code })).status).toBe(200);
    const replay = await mfaGrant(await mfaToken(owner), { otp: code });
    expect(replay.status).toBe(400);
    expect(replay.json()).toMatchObject({ error: 'mfa_code_reused' });
    // An older step's code, still inside the drift window, is refused once a newer one was used.
    const older = totp.generate({ timestamp: clock.now() - TOTP_STEP_SECONDS * 1000 });
    const olderReplay = await mfaGrant(await mfaToken(owner), { otp: older });
    expect(olderReplay.status).toBe(400);
    expect(olderReplay.json()).toMatchObject({ error: 'mfa_code_reused' });
  });

  /*
   * A reused code gets its own answer, so the user knows to wait for the next code rather than retype this
   * one. It tells only someone who already holds a code that was valid, and the password was proven at the
   * MFA step already; it still counts as a failed proof, so replaying a phished code cannot guess for free.
   */
  it('a reused TOTP code answers mfa_code_reused, and still counts towards the lockout', async () => {
    const owner = await freshOwner();
    const { totp } = await enrol(owner);
    const code = nextCode(totp);
    expect((await mfaGrant(await mfaToken(owner), { otp: code })).status).toBe(200);
    for (let replay = 0; replay < 5; replay++) {
      const response = await mfaGrant(await mfaToken(owner), { otp: code });
      expect(response.status).toBe(400);
      expect(response.json()).toEqual({
        error: 'mfa_code_reused',
        error_description: 'This code was already used; wait for the next one.',
      });
    }
    const locked = await passwordGrant(owner);
    expect(locked.status).toBe(429);
    const entries = await auditEntries(owner.tenantId);
    const failures = entries.filter((entry) =>
      ['auth.login_failed', 'auth.account_locked'].includes(entry.action),
    );
    expect(failures.map((entry) => entry.action)).toEqual([
      ...Array<string>(4).fill('auth.login_failed'),
      'auth.account_locked',
    ]);
    for (const entry of failures) expect(JSON.stringify(entry.details)).toContain('reused_second_factor');
  });

  it('disabling with a reused code answers mfa_code_reused, whether or not the password is right', async () => {
    const owner = await freshOwner();
    const { totp } = await enrol(owner);
    const code = nextCode(totp);
    expect((await mfaGrant(await mfaToken(owner), { otp: code })).status).toBe(200);
    const disable = (password: string) =>
      server.request('/v1/me/mfa/totp', json({ password, code }, owner.accessToken, 'DELETE'));
    // The same answer for a right and a wrong password: a used code is no oracle for the password.
    for (const password of [ownerPassword, 'not the password at all']) {
      const response = await disable(password);
      expect(response.status).toBe(401);
      expect(response.json()).toMatchObject({ error: { code: 'mfa_code_reused' } });
    }
    const entries = await auditEntries(owner.tenantId);
    expect(entries.filter((entry) => entry.action === 'auth.mfa_disable_failed')).toHaveLength(2);
    expect((await userRow(owner)).totp_enabled_at).toEqual(expect.any(Number));
  });

  it('a recovery code signs in once and never again', async () => {
    const owner = await freshOwner();
    const { recoveryCodes } = await enrol(owner);
    const [code] = recoveryCodes;
    if (code === undefined) throw new Error('no recovery code');
    const first = await mfaGrant(await mfaToken(owner), { recovery_code: code });
    expect(first.status).toBe(200);
    expect(first.json()).toMatchObject({ access_token: expect.any(String) });
    const second = await mfaGrant(await mfaToken(owner), { recovery_code: code.toUpperCase() });
    expect(second.status).toBe(400);
    expect(second.json()).toMatchObject({ error: 'invalid_grant' });
    const stored = JSON.parse((await userRow(owner)).recovery_codes ?? '[]') as (string | null)[];
    expect(stored.filter((hash) => hash === null)).toHaveLength(1);
  });

  it('five wrong codes on one MFA token kill that token, even for the right code', async () => {
    const owner = await freshOwner();
    const { totp } = await enrol(owner);
    const token = await mfaToken(owner);
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = await mfaGrant(token, { otp: wrongCode(totp) });
      expect(response.status).toBe(400);
      expect(response.json()).toMatchObject({ error: 'invalid_grant' });
    }
    const right = await mfaGrant(token, { otp: nextCode(totp) });
    expect(right.status).toBe(400);
    expect(right.json()).toMatchObject({ error_description: 'The MFA token is invalid or expired.' });
  });

  it('guessing codes locks the account, with a growing back-off, even with a fresh MFA token per guess', async () => {
    const owner = await freshOwner();
    const { totp } = await enrol(owner);
    for (let guess = 0; guess < 5; guess++) {
      expect((await mfaGrant(await mfaToken(owner), { otp: wrongCode(totp) })).status).toBe(400);
    }
    // The right password no longer even reaches the MFA step.
    const locked = await passwordGrant(owner);
    expect(locked.status).toBe(429);
    expect(locked.headers['retry-after']).toBe('30');
    expect(locked.json()).toMatchObject({ error: 'invalid_grant' });

    clock.advanceSeconds(31);
    expect((await mfaGrant(await mfaToken(owner), { otp: wrongCode(totp) })).status).toBe(400);
    const lockedLonger = await passwordGrant(owner);
    expect(lockedLonger.status).toBe(429);
    expect(lockedLonger.headers['retry-after']).toBe('60');

    clock.advanceSeconds(61);
    // Lockout over: the right factors sign in and reset the count.
    await signInWithMfa(owner, totp);
    // Counted from zero again: one more wrong code locks nothing (it would have, as the eighth failure).
    expect((await mfaGrant(await mfaToken(owner), { otp: wrongCode(totp) })).status).toBe(400);
    expect((await passwordGrant(owner)).status).toBe(403);
    const entries = await auditEntries(owner.tenantId);
    expect(entries.filter((entry) => entry.action === 'auth.account_locked')).toHaveLength(2);
  });

  it('disabling needs the password and a code; it ends every other session', async () => {
    const owner = await freshOwner();
    const { totp } = await enrol(owner);
    const otherDevice = await signInWithMfa(owner, totp);
    const disable = (body: Record<string, string>) =>
      server.request('/v1/me/mfa/totp', json(body, owner.accessToken, 'DELETE'));

    const wrongPassword = await disable({ password: 'not the password at all', code: nextCode(totp) });
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.json()).toMatchObject({ error: { code: 'invalid_credentials' } });
    const wrongCodeResponse = await disable({ password: ownerPassword, code: wrongCode(totp) });
    expect(wrongCodeResponse.status).toBe(401);
    expect(wrongCodeResponse.json()).toMatchObject({ error: { code: 'invalid_credentials' } });
    const noCode = await disable({ password: ownerPassword });
    expect(noCode.status).toBe(400);
    expect(noCode.json()).toMatchObject({ error: { code: 'validation_failed' } });
    const unknownField = await disable({ password: ownerPassword, code: nextCode(totp), extra: 'x' });
    expect(unknownField.status).toBe(400);
    expect((await userRow(owner)).totp_enabled_at).toEqual(expect.any(Number));

    expect((await disable({ password: ownerPassword, code: nextCode(totp) })).status).toBe(204);

    expect((await server.request('/v1/me', bearer(otherDevice))).status).toBe(401);
    const me = await server.request('/v1/me', bearer(owner.accessToken));
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({ mfaEnabled: false });
    expect((await passwordGrant(owner)).status).toBe(200);
    expect(await userRow(owner)).toMatchObject({
      totp_secret: null,
      totp_pending_secret: null,
      totp_last_step: null,
      totp_enabled_at: null,
      recovery_codes: null,
    });
    const entries = await auditEntries(owner.tenantId);
    expect(entries.filter((entry) => entry.action === 'auth.mfa_disable_failed')).toHaveLength(2);
    expect(entries).toContainEqual(
      expect.objectContaining({ action: 'auth.mfa_disabled', outcome: 'success', actor_id: owner.userId }),
    );
  });

  it('a recovery code can stand in for the TOTP code when disabling', async () => {
    const owner = await freshOwner();
    const { recoveryCodes } = await enrol(owner);
    const response = await server.request(
      '/v1/me/mfa/totp',
      json({ password: ownerPassword, recoveryCode: recoveryCodes[3] }, owner.accessToken, 'DELETE'),
    );
    expect(response.status).toBe(204);
    expect((await userRow(owner)).totp_enabled_at).toBeNull();
  });

  it('guessing on the disable endpoint counts towards the account lockout', async () => {
    const owner = await freshOwner();
    const { totp } = await enrol(owner);
    for (let guess = 0; guess < 5; guess++) {
      const response = await server.request(
        '/v1/me/mfa/totp',
        json({ password: ownerPassword, code: wrongCode(totp) }, owner.accessToken, 'DELETE'),
      );
      expect(response.status).toBe(401);
    }
    // The right password and a fresh code (next step, inside the drift window) are refused while locked.
    const aheadCode = totp.generate({ timestamp: clock.now() + TOTP_STEP_SECONDS * 1000 });
    const locked = await server.request(
      '/v1/me/mfa/totp',
      json({ password: ownerPassword, code: aheadCode }, owner.accessToken, 'DELETE'),
    );
    expect(locked.status).toBe(429);
    expect(locked.headers['retry-after']).toBe('30');
    expect(locked.json()).toMatchObject({ error: { code: 'account_locked' } });
    // The same lock stops sign-in.
    expect((await passwordGrant(owner)).status).toBe(429);

    clock.advanceSeconds(31);
    const afterLock = await server.request(
      '/v1/me/mfa/totp',
      json(
        { password: ownerPassword, code: totp.generate({ timestamp: clock.now() }) },
        owner.accessToken,
        'DELETE',
      ),
    );
    expect(afterLock.status).toBe(204);
  });

  it('a burst of parallel guesses on the disable endpoint cannot race past the lockout', async () => {
    const owner = await freshOwner();
    const { totp } = await enrol(owner);
    const guesses = await Promise.all(
      Array.from({ length: 8 }, () =>
        server.request(
          '/v1/me/mfa/totp',
          json({ password: ownerPassword, code: wrongCode(totp) }, owner.accessToken, 'DELETE'),
        ),
      ),
    );
    const statuses = guesses.map((response) => response.status).sort();
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const entries = await auditEntries(owner.tenantId);
    expect(entries.filter((entry) => entry.action === 'auth.mfa_disable_failed')).toHaveLength(5);
    expect(entries.filter((entry) => entry.action === 'auth.mfa_disable_refused_locked')).toHaveLength(3);
  });

  it('an admin resets a member’s MFA; the member’s sessions end; members and other tenants may not', async () => {
    const owner = await freshOwner();
    await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .updateTable('tenant_settings')
        .set({ signup_mode: 'open' })
        .where('tenant_id', '=', owner.tenantId)
        .execute(),
    );
    // One member per tenant; the address shares nothing with the member's password (the policy would refuse it).
    const memberEmail = `max.member.${tenantCount}@acme.example`;
    const memberPassword = 'violet umbrella marching quietly 77';
    const signup = await server.request(
      `/v1/tenants/${owner.tenantId}/signup`,
      json({
        displayName: 'Max Member',
        email: memberEmail,
        password: memberPassword,
        acceptedPurposes: [{ key: 'service', version: 1 }],
      }),
    );
    expect(signup.status).toBe(201);
    const memberId = signup.json<{ userId: string }>().userId;
    const member: SignedIn = {
      tenantId: owner.tenantId,
      userId: memberId,
      email: memberEmail,
      ...(await signIn(server, owner.tenantId, memberEmail, memberPassword, 'profile admin')),
    };
    await enrol(member, memberPassword);
    const memberSession = await server.request('/v1/me', bearer(member.accessToken));
    expect(memberSession.status).toBe(200);

    // A member holding an admin-scoped token still lacks the permission.
    const byMember = await server.request(
      `/v1/users/${owner.userId}/mfa`,
      bearer(member.accessToken, 'DELETE'),
    );
    expect(byMember.status).toBe(403);
    expect(byMember.json()).toMatchObject({ error: { code: 'forbidden' } });
    // The owner's token without the admin scope is refused too.
    const profileOnly = await signIn(server, owner.tenantId, owner.email, ownerPassword, 'profile');
    const narrow = await server.request(
      `/v1/users/${memberId}/mfa`,
      bearer(profileOnly.accessToken, 'DELETE'),
    );
    expect(narrow.status).toBe(403);
    expect(narrow.json()).toMatchObject({ error: { code: 'insufficient_scope' } });
    // Another tenant's owner cannot reach this tenant's users: they do not exist for them.
    const stranger = await freshOwner();
    const crossTenant = await server.request(
      `/v1/users/${memberId}/mfa`,
      bearer(stranger.accessToken, 'DELETE'),
    );
    expect(crossTenant.status).toBe(404);
    const unknown = await server.request(
      '/v1/users/00000000-0000-4000-8000-000000000000/mfa',
      bearer(owner.accessToken, 'DELETE'),
    );
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await userRow(member)).totp_enabled_at).toEqual(expect.any(Number));

    const reset = await server.request(`/v1/users/${memberId}/mfa`, bearer(owner.accessToken, 'DELETE'));
    expect(reset.status).toBe(204);

    expect((await server.request('/v1/me', bearer(member.accessToken))).status).toBe(401);
    expect((await userRow(member)).totp_secret).toBeNull();
    const again = await signIn(server, owner.tenantId, memberEmail, memberPassword);
    expect(again.accessToken).toEqual(expect.any(String));
    const entries = await auditEntries(owner.tenantId);
    expect(entries).toContainEqual(
      expect.objectContaining({
        action: 'auth.mfa_reset',
        outcome: 'success',
        actor_id: owner.userId,
        target_id: memberId,
      }),
    );
  });

  it('an owner can reset their own MFA with an admin-scoped token, which ends that session too', async () => {
    const owner = await freshOwner();
    const { totp } = await enrol(owner);
    const adminToken = await signInWithMfa(owner, totp, 'profile admin');
    const reset = await server.request(`/v1/users/${owner.userId}/mfa`, bearer(adminToken, 'DELETE'));
    expect(reset.status).toBe(204);
    expect((await server.request('/v1/me', bearer(adminToken))).status).toBe(401);
    expect((await server.request('/v1/me', bearer(owner.accessToken))).status).toBe(401);
    expect((await passwordGrant(owner)).status).toBe(200);
    const entries = await auditEntries(owner.tenantId);
    expect(entries.map((entry) => entry.action)).toEqual(
      expect.arrayContaining(['auth.mfa_enabled', 'auth.mfa_reset']),
    );
  });

  it('refuses MFA endpoints without a token and malformed codes before they reach the service', async () => {
    const owner = await freshOwner();
    const anonymous = await server.request('/v1/me/mfa/totp', json({}));
    expect(anonymous.status).toBe(401);
    const malformed = await server.request(
      '/v1/me/mfa/totp/confirm',
      json({ code: '12ab56' }, owner.accessToken),
    );
    expect(malformed.status).toBe(400);
    expect(malformed.json()).toMatchObject({ error: { code: 'validation_failed' } });
    const nothingPending = await server.request(
      '/v1/me/mfa/totp/confirm',
      json({ code: '123456' }, owner.accessToken),
    );
    expect(nothingPending.status).toBe(409);
  });

  it('attack: MFA tokens collected before a lockout cannot be used while the account is locked', async () => {
    const owner = await freshOwner();
    const { totp } = await enrol(owner);
    const hoarded = [await mfaToken(owner), await mfaToken(owner)];
    for (let attempt = 0; attempt < 5; attempt += 1) {
      await mfaGrant(await mfaToken(owner), { otp: wrongCode(totp) });
    }
    // The lock lasts 30 s; no clock step here, or it would be over. (Lock refusal comes before any code check.)
    const refused = await mfaGrant(hoarded[0] ?? '', {
      otp: totp.generate({ timestamp: clock.now() + 30_000 }),
    });
    expect(refused.status).toBe(429);
    expect(refused.json()).toMatchObject({
      error: 'invalid_grant',
      error_description: expect.stringContaining('locked'),
    });
  });

  it('attack: one TOTP code sent in parallel with several MFA tokens signs in at most once', async () => {
    const owner = await freshOwner();
    const { totp } = await enrol(owner);
    const tokens = await Promise.all([mfaToken(owner), mfaToken(owner), mfaToken(owner), mfaToken(owner)]);
    const code = nextCode(totp);
    const answers = await Promise.all(tokens.map((token) => mfaGrant(token, { otp: code })));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
  });

  it('attack: a stolen session alone cannot enrol the thief’s authenticator (the password is required)', async () => {
    const owner = await freshOwner();
    const refused = await server.request(
      '/v1/me/mfa/totp',
      json({ password: 'the thief does not know it' }, owner.accessToken),
    );
    expect(refused.status).toBe(401);
    expect((await server.request('/v1/me/mfa/totp', json({}, owner.accessToken))).status).toBe(400);
    expect((await userRow(owner)).totp_pending_secret).toBeNull();
  });

  it('sends the user a security notice when MFA is turned on', async () => {
    const owner = await freshOwner();
    await enrol(owner);
    await server.app.services.emailFlows.drain();
    const kinds = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx.selectFrom('mail_outbox').select('kind').where('tenant_id', '=', owner.tenantId).execute(),
    );
    expect(kinds.map((row) => row.kind)).toContain('mfa_changed');
  });
});
