import { createHmac, randomFillSync, randomInt, timingSafeEqual } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { AppError } from '../../app-error.ts';

/*
 * Pure TOTP (RFC 6238) and recovery-code primitives. No storage here: the caller seals the secret with the
 * field cipher, persists `lastUsedStep` and the recovery-code hashes, and consumes a matched recovery code in
 * the same transaction that signs the user in.
 */

/** The parameters every common authenticator app (Google Authenticator, Authy, 1Password) accepts. */
const ALGORITHM = 'SHA1';
const DIGITS = 6;
const PERIOD_SECONDS = 30;
/** Steps accepted either side of the current one, for clock drift between server and phone. */
const DRIFT_STEPS = 1;
/** 160 bits: the secret length RFC 4226 recommends, matching SHA-1's output. */
const SECRET_BYTES = 20;

const CODE_PATTERN = /^[0-9]{6}$/;

export interface TotpEnrollment {
  /** Base32 secret, to be sealed with the field cipher before it touches the database. */
  secret: string;
  /** `otpauth://totp/…` Key URI for authenticator apps. */
  otpauthUri: string;
  /** The same URI as a QR code, as a standalone `<svg>` document. */
  qrSvg: string;
}

/** Starts enrolment: a fresh secret, its Key URI and a QR code. MFA stays off until a code is confirmed. */
export async function createTotpEnrollment(input: {
  issuer: string;
  accountName: string;
}): Promise<TotpEnrollment> {
  // The Key URI label is `issuer:account`; a colon inside either part makes apps split it wrongly.
  for (const part of [input.issuer, input.accountName]) {
    if (part.length === 0 || part.includes(':')) {
      throw new AppError(
        'validation_failed',
        'The issuer and account name must be non-empty and contain no colon.',
      );
    }
  }
  // A dedicated array, not a Buffer: small Buffers share a pooled ArrayBuffer with unrelated data.
  const secret = new Secret({ buffer: randomFillSync(new Uint8Array(SECRET_BYTES)).buffer });
  const totp = new TOTP({
    issuer: input.issuer,
    label: input.accountName,
    secret,
    algorithm: ALGORITHM,
    digits: DIGITS,
    period: PERIOD_SECONDS,
  });
  const otpauthUri = totp.toString();
  const qrSvg = await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { secret: secret.base32, otpauthUri, qrSvg };
}

/**
 * Outcome of checking a TOTP code. On success, `step` is the RFC 6238 time-step counter the code belongs to;
 * the caller must persist it as the user's `lastUsedStep` (compare-and-set) before treating the login as done.
 * `replayed` (right code, step already used) may be told apart from `invalid`: it tells only someone who holds
 * a valid code, and it must still count as a failed attempt.
 */
export type TotpVerification =
  { ok: true; step: number } | { ok: false; reason: 'invalid' | 'replayed' | 'malformed' };

/**
 * Checks a 6-digit code against the current step ±1. A code whose step is not after `lastUsedStep` is refused,
 * so no code is accepted twice — not even an older step's code once a newer one was used.
 */
export function verifyTotp(input: {
  secret: string;
  code: string;
  now: number;
  lastUsedStep: number | null;
}): TotpVerification {
  if (!CODE_PATTERN.test(input.code)) return { ok: false, reason: 'malformed' };

  const secret = Secret.fromBase32(input.secret);
  const given = Buffer.from(input.code, 'ascii');
  const current = Math.floor(input.now / 1000 / PERIOD_SECONDS);
  // Every candidate is computed and compared, so the time taken says nothing about which step matched.
  // The highest matching step wins: when two steps share a code by chance, recording the later one keeps
  // `lastUsedStep` monotonic and the same string unusable again inside this window.
  let matched: number | null = null;
  for (let step = current - DRIFT_STEPS; step <= current + DRIFT_STEPS; step++) {
    if (step < 0) continue;
    const expected = HOTP.generate({ secret, algorithm: ALGORITHM, digits: DIGITS, counter: step });
    if (timingSafeEqual(given, Buffer.from(expected, 'ascii'))) matched = step;
  }

  if (matched === null) return { ok: false, reason: 'invalid' };
  if (input.lastUsedStep !== null && matched <= input.lastUsedStep) return { ok: false, reason: 'replayed' };
  return { ok: true, step: matched };
}

/**
 * Crockford's base32 alphabet: no i, l, o or u, so nothing a user can misread. Input is folded the Crockford
 * way (o→0, i/l→1) before hashing, so a misread character still matches.
 */
export const RECOVERY_CODE_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** Symbols per code, shown as three dash-separated groups of four: 32^12 = 2^60 possibilities. */
export const RECOVERY_CODE_LENGTH = 12;
export const RECOVERY_CODE_COUNT = 10;

const NORMALISED_PATTERN = new RegExp(`^[${RECOVERY_CODE_ALPHABET}]{${RECOVERY_CODE_LENGTH}}$`);
const HASH_BYTES = 32;

/** Ten distinct single-use recovery codes such as `7k2m-x9qp-4hd0`. Show once; store only their hashes. */
export function generateRecoveryCodes(): string[] {
  const codes = new Set<string>();
  while (codes.size < RECOVERY_CODE_COUNT) codes.add(randomRecoveryCode());
  return [...codes];
}

function randomRecoveryCode(): string {
  let raw = '';
  // randomInt draws without modulo bias.
  for (let i = 0; i < RECOVERY_CODE_LENGTH; i++) {
    raw += RECOVERY_CODE_ALPHABET.charAt(randomInt(RECOVERY_CODE_ALPHABET.length));
  }
  return `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8)}`;
}

/** Lower-cases, drops dashes and whitespace, and folds Crockford look-alikes. */
function normaliseRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
}

/**
 * HMAC-SHA-256 (hex) of the normalised code under a server-held pepper.
 *
 * Why not Argon2: slow hashes exist to stretch low-entropy secrets like passwords. Each recovery code carries
 * 60 random bits, so even with the pepper an offline search costs ~2^59 HMACs per code — out of reach without
 * any stretching — and without the pepper (kept outside the database) it cannot start at all. A fast hash also
 * lets a login attempt check all ten slots without handing attackers a CPU-exhaustion lever.
 */
export function hashRecoveryCode(code: string, pepper: Buffer): string {
  return createHmac('sha256', pepper).update(normaliseRecoveryCode(code)).digest('hex');
}

/**
 * Index of the stored hash `input` matches, or -1. Pass only unused hashes (a consumed slot may be left as an
 * empty string to keep indices stable; it never matches). The caller deletes the matched hash in the same
 * transaction, which is what makes each code single-use.
 */
export function matchRecoveryCode(input: string, storedHashes: readonly string[], pepper: Buffer): number {
  if (!NORMALISED_PATTERN.test(normaliseRecoveryCode(input))) return -1;
  const given = Buffer.from(hashRecoveryCode(input, pepper), 'hex');
  // No early exit: every slot is compared, so timing does not reveal which one matched.
  let found = -1;
  storedHashes.forEach((stored, index) => {
    const candidate = Buffer.from(stored, 'hex');
    if (candidate.length === HASH_BYTES && timingSafeEqual(given, candidate) && found === -1) found = index;
  });
  return found;
}
