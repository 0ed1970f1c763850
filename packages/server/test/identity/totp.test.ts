import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Secret, TOTP, URI } from 'otpauth';
import { describe, expect, it } from 'vitest';
import {
  RECOVERY_CODE_ALPHABET,
  RECOVERY_CODE_COUNT,
  RECOVERY_CODE_LENGTH,
  createTotpEnrollment,
  generateRecoveryCodes,
  hashRecoveryCode,
  matchRecoveryCode,
  verifyTotp,
} from '../../src/identity/mfa/totp.ts';

/**
 * Attacks: someone who has seen or phished one TOTP code replays it, or replays an older code after the user
 * has already moved on; someone guesses codes outside the accepted window; someone who stole the database
 * tries to use the stored recovery-code hashes, or reuses a recovery code that was already spent.
 */

// Mid-step, so ±30 s lands squarely in the neighbouring steps.
const NOW = Date.UTC(2025, 0, 15, 12, 0, 10);
const PEPPER = randomBytes(32);
/** RFC 6238 Appendix B's SHA-1 seed, ASCII "12345678901234567890", in base32. */
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

function codeAt(secret: string, timestamp: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp });
}

async function enrolledSecret(): Promise<string> {
  return (await createTotpEnrollment({ issuer: 'Parley', accountName: 'alice@example.com' })).secret;
}

describe('TOTP enrolment', () => {
  it('returns a 160-bit base32 secret in an otpauth URI that authenticator apps accept', async () => {
    const { secret, otpauthUri } = await createTotpEnrollment({ issuer: 'Parley', accountName: 'alice' });

    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(Secret.fromBase32(secret).bytes).toHaveLength(20);
    // Parameter order is not significant in a Key URI, so compare the parts rather than the string.
    const url = new URL(otpauthUri);
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    expect(decodeURIComponent(url.pathname)).toBe('/Parley:alice');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      secret,
      issuer: 'Parley',
      algorithm: 'SHA1',
      digits: '6',
      period: '30',
    });
    const parsed = URI.parse(otpauthUri);
    expect(parsed).toBeInstanceOf(TOTP);
    expect(parsed).toMatchObject({
      issuer: 'Parley',
      label: 'alice',
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
    });
    expect(parsed.secret.base32).toBe(secret);
  });

  it('gives each enrolment a fresh secret', async () => {
    expect(await enrolledSecret()).not.toBe(await enrolledSecret());
  });

  it('renders the URI as an SVG QR code', async () => {
    const { qrSvg } = await createTotpEnrollment({ issuer: 'Parley', accountName: 'alice' });
    expect(qrSvg.trimStart().startsWith('<svg')).toBe(true);
    expect(qrSvg.trimEnd().endsWith('</svg>')).toBe(true);
  });

  it('refuses an issuer or account name containing a colon, which would corrupt the label', async () => {
    await expect(createTotpEnrollment({ issuer: 'Par:ley', accountName: 'alice' })).rejects.toMatchObject({
      code: 'validation_failed',
    });
    await expect(createTotpEnrollment({ issuer: 'Parley', accountName: '' })).rejects.toMatchObject({
      code: 'validation_failed',
    });
  });
});

describe('TOTP verification', () => {
  it('accepts the current code and its neighbours either side for clock drift', async () => {
    const secret = await enrolledSecret();
    const current = Math.floor(NOW / 30_000);
    for (const [offset, step] of [
      [0, current],
      [-30_000, current - 1],
      [30_000, current + 1],
    ] as const) {
      const code = codeAt(secret, NOW + offset);
      expect(verifyTotp({ secret, code, now: NOW, lastUsedStep: null })).toEqual({ ok: true, step });
    }
  });

  it('refuses codes from more than one step away', () => {
    for (const offset of [-90_000, -60_000, 60_000, 90_000]) {
      const code = codeAt(RFC_SECRET, NOW + offset);
      expect(verifyTotp({ secret: RFC_SECRET, code, now: NOW, lastUsedStep: null })).toEqual({
        ok: false,
        reason: 'invalid',
      });
    }
  });

  it.each([
    [59, '287082', 1],
    [1_111_111_109, '081804', 37_037_036],
    [1_234_567_890, '005924', 41_152_263],
  ])('matches the RFC 6238 SHA-1 test vector at T=%i s', (seconds, code, step) => {
    expect(verifyTotp({ secret: RFC_SECRET, code, now: seconds * 1000, lastUsedStep: null })).toEqual({
      ok: true,
      step,
    });
  });

  it('refuses a replay of a code that was already accepted', async () => {
    const secret = await enrolledSecret();
    const code = codeAt(secret, NOW);
    const first = verifyTotp({ secret, code, now: NOW, lastUsedStep: null });
    expect(first.ok).toBe(true);
    const lastUsedStep = first.ok ? first.step : null;

    expect(verifyTotp({ secret, code, now: NOW, lastUsedStep })).toEqual({ ok: false, reason: 'replayed' });
    expect(verifyTotp({ secret, code, now: NOW + 20_000, lastUsedStep })).toEqual({
      ok: false,
      reason: 'replayed',
    });
  });

  it('refuses an older step’s code once a newer one was used', async () => {
    const secret = await enrolledSecret();
    const newer = verifyTotp({ secret, code: codeAt(secret, NOW), now: NOW, lastUsedStep: null });
    expect(newer.ok).toBe(true);
    const lastUsedStep = newer.ok ? newer.step : null;

    const older = codeAt(secret, NOW - 30_000);
    expect(verifyTotp({ secret, code: older, now: NOW, lastUsedStep })).toEqual({
      ok: false,
      reason: 'replayed',
    });
  });

  it('accepts the next step’s code after the current one was used', async () => {
    const secret = await enrolledSecret();
    const current = Math.floor(NOW / 30_000);
    const next = codeAt(secret, NOW + 30_000);
    expect(verifyTotp({ secret, code: next, now: NOW + 30_000, lastUsedStep: current })).toEqual({
      ok: true,
      step: current + 1,
    });
  });

  it.each(['12345', '1234567', 'abcdef', '', '12345 ', ' 123456', '１２３４５６', '12-456'])(
    'refuses %j as malformed',
    async (code) => {
      const secret = await enrolledSecret();
      expect(verifyTotp({ secret, code, now: NOW, lastUsedStep: null })).toEqual({
        ok: false,
        reason: 'malformed',
      });
    },
  );

  it('refuses every 6-digit code that is not one of the three window codes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        fc.integer({ min: 1_000_000_000_000, max: 4_000_000_000_000 }),
        fc.integer({ min: 0, max: 999_999 }),
        (bytes, now, n) => {
          const secret = new Secret({ buffer: new Uint8Array(bytes).buffer }).base32;
          const code = n.toString().padStart(6, '0');
          const window = [now - 30_000, now, now + 30_000].map((t) => codeAt(secret, t));
          fc.pre(!window.includes(code));
          expect(verifyTotp({ secret, code, now, lastUsedStep: null })).toEqual({
            ok: false,
            reason: 'invalid',
          });
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('recovery codes', () => {
  it('generates ten unique codes of three groups of four unambiguous characters', () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(new Set(codes).size).toBe(RECOVERY_CODE_COUNT);
    const group = `[${RECOVERY_CODE_ALPHABET}]{4}`;
    for (const code of codes) expect(code).toMatch(new RegExp(`^${group}-${group}-${group}$`));
    expect(RECOVERY_CODE_ALPHABET).not.toMatch(/[ilou]/);
  });

  it('carries at least 60 bits of entropy per code', () => {
    expect(new Set(RECOVERY_CODE_ALPHABET).size).toBe(RECOVERY_CODE_ALPHABET.length);
    expect(RECOVERY_CODE_ALPHABET.length ** RECOVERY_CODE_LENGTH).toBeGreaterThanOrEqual(2 ** 60);
  });

  it('stores codes as peppered hashes that do not reveal the code', () => {
    const [code = ''] = generateRecoveryCodes();
    const hash = hashRecoveryCode(code, PEPPER);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(code.replace(/-/g, ''));
    expect(hashRecoveryCode(code, randomBytes(32))).not.toBe(hash);
  });

  it('matches a code to its index once; a consumed code no longer matches', () => {
    const codes = generateRecoveryCodes();
    const hashes = codes.map((c) => hashRecoveryCode(c, PEPPER));
    const spent = codes[3] ?? '';

    expect(matchRecoveryCode(spent, hashes, PEPPER)).toBe(3);
    // The caller consumes the slot; an empty string keeps the other indices stable.
    hashes[3] = '';
    expect(matchRecoveryCode(spent, hashes, PEPPER)).toBe(-1);
    expect(matchRecoveryCode(spent, hashes.filter(Boolean), PEPPER)).toBe(-1);
    expect(matchRecoveryCode(codes[7] ?? '', hashes, PEPPER)).toBe(7);
  });

  it('matches regardless of case, dashes, spaces and Crockford look-alikes', () => {
    const codes = generateRecoveryCodes();
    const hashes = codes.map((c) => hashRecoveryCode(c, PEPPER));
    const code = codes[0] ?? '';

    expect(matchRecoveryCode(code.toUpperCase(), hashes, PEPPER)).toBe(0);
    expect(matchRecoveryCode(code.replace(/-/g, ''), hashes, PEPPER)).toBe(0);
    expect(matchRecoveryCode(` ${code.replace(/-/g, ' ')} `, hashes, PEPPER)).toBe(0);
    expect(matchRecoveryCode(code.replace(/0/g, 'O').replace(/1/g, 'l'), hashes, PEPPER)).toBe(0);
  });

  it('does not match a wrong code, a malformed input or the right code under another pepper', () => {
    const codes = generateRecoveryCodes();
    const hashes = codes.map((c) => hashRecoveryCode(c, PEPPER));
    const [other = ''] = generateRecoveryCodes();

    expect(matchRecoveryCode(other, hashes, PEPPER)).toBe(-1);
    expect(matchRecoveryCode('', hashes, PEPPER)).toBe(-1);
    expect(matchRecoveryCode('not-a-code', hashes, PEPPER)).toBe(-1);
    expect(matchRecoveryCode(hashes[0] ?? '', hashes, PEPPER)).toBe(-1);
    expect(matchRecoveryCode(codes[0] ?? '', hashes, randomBytes(32))).toBe(-1);
  });
});
