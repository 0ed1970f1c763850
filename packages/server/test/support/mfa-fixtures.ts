import { TOTP, URI } from 'otpauth';
import { json } from './identity-fixtures.ts';
import type { TestServer } from './start-server.ts';

/**
 * Turns TOTP on for the signed-in user over the real API. The enrolment is confirmed with the previous
 * step's code, so the current and the next step's codes stay unused for the test.
 */
export async function enrolTotp(
  server: TestServer,
  accessToken: string,
  password: string,
): Promise<{ totp: TOTP; recoveryCodes: string[] }> {
  const begun = await server.request('/v1/me/mfa/totp', json({ password }, accessToken));
  if (begun.status !== 201 && begun.status !== 200) throw new Error(`MFA enrolment failed: ${begun.text}`);
  const totp = URI.parse(begun.json<{ otpauthUri: string }>().otpauthUri);
  if (!(totp instanceof TOTP)) throw new Error('not a TOTP URI');
  const confirmed = await server.request(
    '/v1/me/mfa/totp/confirm',
    json({ code: totp.generate({ timestamp: Date.now() - 30_000 }) }, accessToken),
  );
  if (confirmed.status !== 200) throw new Error(`MFA confirmation failed: ${confirmed.text}`);
  return { totp, recoveryCodes: confirmed.json<{ recoveryCodes: string[] }>().recoveryCodes };
}
