import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { AppError } from '../../app-error.ts';

/** argon2id cost parameters, as stored in the PHC string (`m`, `t`, `p`). */
export interface Argon2Params {
  /** Memory in KiB. */
  memoryCost: number;
  /** Passes over memory. */
  timeCost: number;
  /** Lanes. */
  parallelism: number;
}

/**
 * OWASP Password Storage Cheat Sheet's minimum for argon2id (19 MiB, 2 passes, 1 lane). The hasher refuses
 * anything weaker, dimension by dimension, so "below the current parameters" is always well defined.
 */
export const OWASP_ARGON2ID_MINIMUM: Readonly<Argon2Params> = Object.freeze({
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
});

/**
 * The longest password, in UTF-8 bytes, that is ever hashed. It bounds the work a sign-in request can cause
 * (a 1 MB password is refused before argon2 or Unicode normalisation sees it). It is 4 × 4096 so that every
 * password the policy's largest `maxLength` (4096 code points, at most 4 bytes each) allows still fits.
 */
export const MAX_PASSWORD_BYTES = 16_384;

/** True when the raw input is too large to be worth normalising or hashing. */
export function exceedsPasswordByteLimit(password: string): boolean {
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short strings need no byte count at all.
  if (password.length * 3 <= MAX_PASSWORD_BYTES) return false;
  return password.length > MAX_PASSWORD_BYTES || Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;
}

/**
 * NFKC, as NIST SP 800-63B asks: the same password typed on two keyboards (composed "é" or "e" + accent,
 * full-width digits) must hash the same. The policy measures length on this form too.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

const PHC_ARGON2 = /^\$(argon2(?:id|i|d))\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
const ARGON2_VERSION_1_3 = 0x13;

interface ParsedHash extends Argon2Params {
  variant: string;
  version: number;
}

function parseHash(hash: string): ParsedHash | null {
  const match = PHC_ARGON2.exec(hash);
  if (!match) return null;
  const [, variant = '', version, m, t, p] = match;
  return {
    variant,
    version: Number(version),
    memoryCost: Number(m),
    timeCost: Number(t),
    parallelism: Number(p),
  };
}

/**
 * Hashes and verifies passwords with argon2id. Sign-in must call exactly one of `verify` (a user was found)
 * or `verifyUnknownUser` (none was), so that both paths cost one argon2 verification with the current
 * parameters and answer alike. Users whose stored hash has older, cheaper parameters still verify faster
 * until `needsRehash` has them rehashed on their next successful sign-in.
 */
export class PasswordHasher {
  readonly params: Readonly<Argon2Params>;
  /**
   * Started at construction so that even the first unknown-user sign-in costs one verify, not a hash plus a
   * verify. Its password is random and forgotten: nothing can ever match it.
   */
  private readonly dummyHash: Promise<string>;

  constructor(params: Partial<Argon2Params> = {}) {
    const chosen = { ...OWASP_ARGON2ID_MINIMUM, ...params };
    for (const key of ['memoryCost', 'timeCost', 'parallelism'] as const) {
      if (!Number.isInteger(chosen[key]) || chosen[key] < OWASP_ARGON2ID_MINIMUM[key]) {
        throw new Error(`argon2 ${key} must be an integer >= ${OWASP_ARGON2ID_MINIMUM[key]} (OWASP minimum)`);
      }
    }
    this.params = Object.freeze(chosen);
    this.dummyHash = this.hash(randomBytes(32).toString('base64url'));
    // Handled here only to keep an early failure from being an unhandled rejection; callers still see it.
    this.dummyHash.catch(() => undefined);
  }

  /** Hashes a new password. Throws `validation_failed` for input over `MAX_PASSWORD_BYTES`. */
  async hash(password: string): Promise<string> {
    if (exceedsPasswordByteLimit(password)) {
      throw new AppError('validation_failed', `The password is longer than ${MAX_PASSWORD_BYTES} bytes.`);
    }
    return argon2.hash(normalizePassword(password), { type: argon2.argon2id, ...this.params });
  }

  /**
   * True when `password` matches `hash`. An over-long password is false without hashing (it can never have
   * been stored). A `hash` that is not an argon2 PHC string is a storage fault and throws.
   */
  async verify(hash: string, password: string): Promise<boolean> {
    if (!parseHash(hash)) throw new Error('stored password hash is not an argon2 PHC string');
    if (exceedsPasswordByteLimit(password)) return false;
    return argon2.verify(hash, normalizePassword(password));
  }

  /** Always false, after the same work as a wrong-password `verify`: call it when no user matched. */
  async verifyUnknownUser(password: string): Promise<false> {
    if (exceedsPasswordByteLimit(password)) return false;
    await argon2.verify(await this.dummyHash, normalizePassword(password));
    return false;
  }

  /**
   * True when `hash` should be replaced after a successful sign-in: not argon2id, not version 1.3, or any
   * parameter below the current ones. Higher stored parameters are kept (lowering the config never
   * downgrades hashes).
   */
  needsRehash(hash: string): boolean {
    const parsed = parseHash(hash);
    if (!parsed || parsed.variant !== 'argon2id' || parsed.version !== ARGON2_VERSION_1_3) return true;
    return (
      parsed.memoryCost < this.params.memoryCost ||
      parsed.timeCost < this.params.timeCost ||
      parsed.parallelism < this.params.parallelism
    );
  }
}
