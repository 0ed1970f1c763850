import type { ErasureBody } from '@parley/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../support/dialects.ts';
import {
  bearer,
  json,
  memberPassword,
  newMember,
  newTenantOwner,
  type SignedIn,
} from '../../support/identity-fixtures.ts';
import { enrolTotp } from '../../support/mfa-fixtures.ts';
import { startTestServer, type TestResponse, type TestServer } from '../../support/start-server.ts';
import { auditEntries } from './gdpr-fixtures.ts';

/**
 * Self-service erasure needs a step-up. Attack: someone holding a user's access token (stolen from a device,
 * a log, a proxy) — and perhaps their password too, phished — asks for the account's erasure. Without MFA the
 * password is asked again; with MFA also a current TOTP code or a recovery code, each usable once. Refused
 * attempts schedule nothing, count towards the account lockout and are audited.
 */
describeEachDialect('self-service erasure step-up', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let serial = 0;
  const codeOf = (response: TestResponse) => response.json<{ error: { code: string } }>().error.code;
  const askErasure = (token: string, body: unknown, method = 'POST') =>
    server.request(method === 'POST' ? '/v1/me/erasure' : '/v1/me', json(body, token, method));
  const scheduled = async (token: string) => {
    const response = await server.request('/v1/me/erasure', bearer(token));
    return response.status === 200 ? response.json<ErasureBody>().status : codeOf(response);
  };
  const member = () => newMember(server, owner, `step-up-${Date.now()}-${(serial += 1)}@erasure.example`);

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Step-up Clinic');
  });

  afterAll(async () => {
    await server.close();
  });

  it('with MFA, the token and even the right password start nothing without a current code', async () => {
    const victim = await member();
    const { totp } = await enrolTotp(server, victim.token, memberPassword);

    const tokenOnly = await askErasure(victim.token, {});
    expect(tokenOnly.status).toBe(400);
    const passwordOnly = await askErasure(victim.token, { password: memberPassword });
    expect(passwordOnly.status, passwordOnly.text).toBe(403);
    expect(codeOf(passwordOnly)).toBe('mfa_code_required');
    const deleteMe = await askErasure(victim.token, { password: memberPassword }, 'DELETE');
    expect(deleteMe.status).toBe(403);
    expect(codeOf(deleteMe)).toBe('mfa_code_required');
    const wrongCode = await askErasure(victim.token, { password: memberPassword, code: '000000' });
    expect(wrongCode.status).toBe(401);
    expect(codeOf(wrongCode)).toBe('invalid_credentials');
    const code = totp.generate();
    const wrongPassword = await askErasure(victim.token, { password: 'not my password', code });
    expect(wrongPassword.status).toBe(401);
    expect(codeOf(wrongPassword)).toBe('invalid_credentials');
    expect(await scheduled(victim.token)).toBe('not_found');
    const failures = await auditEntries(server, owner.tenantId, 'auth.step_up_failed');
    const theirs = failures.filter((entry) => entry.target_id === victim.userId);
    expect(theirs.map((entry) => JSON.parse(entry.details) as { purpose: string; reason: string })).toEqual([
      expect.objectContaining({ purpose: 'erasure', reason: 'wrong_second_factor' }),
      expect.objectContaining({ purpose: 'erasure', reason: 'wrong_password' }),
    ]);
  });

  it('with MFA, the password and a current TOTP code schedule it, and that code cannot serve again', async () => {
    const victim = await member();
    const { totp } = await enrolTotp(server, victim.token, memberPassword);
    const code = totp.generate();
    const asked = await askErasure(victim.token, { password: memberPassword, code });
    expect(asked.status, asked.text).toBe(202);
    expect(asked.json<ErasureBody>()).toMatchObject({ status: 'scheduled', source: 'subject' });
    expect((await server.request('/v1/me/erasure', bearer(victim.token, 'DELETE'))).status).toBe(200);
    // Replayed (seen over a shoulder, or captured with the token): refused, nothing scheduled again.
    const replayed = await askErasure(victim.token, { password: memberPassword, code });
    expect(replayed.status).toBe(401);
    expect(codeOf(replayed)).toBe('mfa_code_reused');
    expect(await scheduled(victim.token)).toBe('cancelled');
  });

  it('with MFA, a recovery code schedules it once; the spent code is refused afterwards', async () => {
    const victim = await member();
    const { recoveryCodes } = await enrolTotp(server, victim.token, memberPassword);
    const recoveryCode = recoveryCodes[0] ?? '';
    const asked = await askErasure(victim.token, { password: memberPassword, recoveryCode }, 'DELETE');
    expect(asked.status, asked.text).toBe(202);
    expect((await server.request('/v1/me/erasure', bearer(victim.token, 'DELETE'))).status).toBe(200);
    const spent = await askErasure(victim.token, { password: memberPassword, recoveryCode });
    expect(spent.status).toBe(401);
    expect(codeOf(spent)).toBe('invalid_credentials');
    expect(await scheduled(victim.token)).toBe('cancelled');
  });

  it('without MFA, the current password is what it takes', async () => {
    const victim = await member();
    const wrong = await askErasure(victim.token, { password: 'not my password' });
    expect(wrong.status).toBe(401);
    expect(codeOf(wrong)).toBe('invalid_credentials');
    expect(await scheduled(victim.token)).toBe('not_found');
    const asked = await askErasure(victim.token, { password: memberPassword });
    expect(asked.status, asked.text).toBe(202);
    expect(await scheduled(victim.token)).toBe('scheduled');
  });
});
