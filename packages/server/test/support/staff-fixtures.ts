import type { StaffRole } from '@parley/protocol';
import { TOTP, URI } from 'otpauth';
import type { Clock } from '../../src/clock.ts';
import { json } from './identity-fixtures.ts';
import type { TestServer } from './start-server.ts';

export const staffPassword = 'seven quiet herons over the harbour';

/** A clock the test moves by hand: staff sessions expire and TOTP steps advance only when told. */
export class ManualClock implements Clock {
  #now = Date.now();
  now(): number {
    return this.#now;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

export interface SignedInStaff {
  id: string;
  email: string;
  role: StaffRole;
  totp: TOTP;
  accessToken: string;
}

/** The TOTP of an otpauth URI, to make codes as the staff member's authenticator would. */
export function totpOf(otpauthUri: string): TOTP {
  const totp = URI.parse(otpauthUri);
  if (!(totp instanceof TOTP)) throw new Error('not a TOTP URI');
  return totp;
}

/**
 * A staff member created as `parley staff create` does, enrolled over the API and signed in. The enrolment
 * uses the previous step's code and the sign-in the current one, so no code is used twice; the server's
 * clock (a ManualClock, or the system clock) dates both.
 */
export async function newStaff(
  server: TestServer,
  role: StaffRole,
  clock: Clock = { now: () => Date.now() },
  email = `${role}-${Math.random().toString(36).slice(2, 8)}@operator.example`,
): Promise<SignedInStaff> {
  const created = await server.app.services.staff.create({ email, role });
  const totp = totpOf(created.otpauthUri);
  const enrolled = await server.request(
    '/v1/platform/enrolment',
    json({
      enrolmentToken: created.enrolmentToken,
      password: staffPassword,
      code: totp.generate({ timestamp: clock.now() - 30_000 }),
    }),
  );
  if (enrolled.status !== 204) throw new Error(`staff enrolment failed: ${enrolled.text}`);
  const session = await server.request(
    '/v1/platform/sessions',
    json({ email, password: staffPassword, code: totp.generate({ timestamp: clock.now() }) }),
  );
  if (session.status !== 201) throw new Error(`staff sign-in failed: ${session.text}`);
  return {
    id: created.id,
    email,
    role,
    totp,
    accessToken: session.json<{ accessToken: string }>().accessToken,
  };
}
