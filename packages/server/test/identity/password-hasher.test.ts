import argon2 from 'argon2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  MAX_PASSWORD_BYTES,
  OWASP_ARGON2ID_MINIMUM,
  PasswordHasher,
} from '../../src/identity/passwords/password-hasher.ts';

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function elapsedMs(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

describe('PasswordHasher', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('hashes with argon2id at the OWASP minimum by default', async () => {
    const hasher = new PasswordHasher();
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(hasher.params).toEqual(OWASP_ARGON2ID_MINIMUM);
  });

  it('records stronger parameters when configured with them', async () => {
    const hasher = new PasswordHasher({ memoryCost: 24_576, timeCost: 3 });
    expect(await hasher.hash('pw')).toMatch(/^\$argon2id\$v=19\$m=24576,t=3,p=1\$/);
  });

  it('refuses parameters below the OWASP minimum', () => {
    expect(() => new PasswordHasher({ memoryCost: 4096 })).toThrow(/memoryCost/);
    expect(() => new PasswordHasher({ timeCost: 1 })).toThrow(/timeCost/);
    expect(() => new PasswordHasher({ parallelism: 0 })).toThrow(/parallelism/);
  });

  it('verifies the right password and rejects a wrong one', async () => {
    const hasher = new PasswordHasher();
    const hash = await hasher.hash('violet tractor harbour');
    expect(await hasher.verify(hash, 'violet tractor harbour')).toBe(true);
    expect(await hasher.verify(hash, 'violet tractor harbor')).toBe(false);
  });

  it('treats canonically equivalent spellings of a password as the same password (NFKC)', async () => {
    const hasher = new PasswordHasher();
    const hash = await hasher.hash('caf\u00e9 \uff11\uff12\uff13'); // composed é, full-width digits
    expect(await hasher.verify(hash, 'cafe\u0301 123')).toBe(true);
  });

  it('throws on a stored value that is not an argon2 hash rather than silently refusing', async () => {
    await expect(new PasswordHasher().verify('$2b$12$abcdefghijklmnopqrstuv', 'pw')).rejects.toThrow(/PHC/);
  });

  describe('needsRehash', () => {
    it('is false for a hash made with the current parameters', async () => {
      const hasher = new PasswordHasher();
      expect(hasher.needsRehash(await hasher.hash('pw'))).toBe(false);
    });

    it('is true once any parameter rises above the stored one', async () => {
      const stored = await new PasswordHasher().hash('pw');
      expect(new PasswordHasher({ memoryCost: 65_536 }).needsRehash(stored)).toBe(true);
      expect(new PasswordHasher({ timeCost: 3 }).needsRehash(stored)).toBe(true);
      expect(new PasswordHasher({ parallelism: 2 }).needsRehash(stored)).toBe(true);
    });

    it('keeps a hash whose parameters are higher than the current ones (no downgrade)', async () => {
      const stored = await new PasswordHasher({ memoryCost: 32_768 }).hash('pw');
      expect(new PasswordHasher().needsRehash(stored)).toBe(false);
    });

    it('is true for argon2i, argon2d and non-argon2 hashes', async () => {
      const hasher = new PasswordHasher();
      const argon2i = await argon2.hash('pw', { type: argon2.argon2i, ...OWASP_ARGON2ID_MINIMUM });
      const argon2d = await argon2.hash('pw', { type: argon2.argon2d, ...OWASP_ARGON2ID_MINIMUM });
      expect(hasher.needsRehash(argon2i)).toBe(true);
      expect(hasher.needsRehash(argon2d)).toBe(true);
      expect(hasher.needsRehash('$2b$12$abcdefghijklmnopqrstuv')).toBe(true);
    });
  });

  it('answers an unknown user with false', async () => {
    expect(await new PasswordHasher().verifyUnknownUser('anything at all')).toBe(false);
  });

  it('makes an unknown user take as long as a wrong password (user enumeration by timing)', async () => {
    // Attack: an attacker times sign-in answers to learn which e-mail addresses have accounts. If "no such
    // user" skipped argon2 it would answer in microseconds instead of tens of milliseconds. Runs are
    // interleaved so that load from other processes falls on both series alike; medians ignore outliers.
    const hasher = new PasswordHasher();
    const stored = await hasher.hash('the real password');
    await hasher.verifyUnknownUser('warm-up');
    const wrong: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 15; i += 1) {
      wrong.push(await elapsedMs(() => hasher.verify(stored, `guess ${i}`)));
      unknown.push(await elapsedMs(() => hasher.verifyUnknownUser(`guess ${i}`)));
    }
    const ratio = median(unknown) / median(wrong);
    expect(ratio).toBeGreaterThan(0.75);
    expect(ratio).toBeLessThan(1.25);
  });

  describe('over-long input (hashing as a denial of service)', () => {
    // Attack: a client posts a 1 MB password so that every sign-in attempt makes the server normalise and
    // feed megabytes to argon2. The limit is checked before any of that work.
    const oneMegabyte = 'a'.repeat(1024 * 1024);

    it('refuses a 1 MB password within 50 ms without calling argon2', async () => {
      const hasher = new PasswordHasher();
      const stored = await hasher.hash('short');
      const hashSpy = vi.spyOn(argon2, 'hash');
      const verifySpy = vi.spyOn(argon2, 'verify');
      const start = performance.now();
      await expect(hasher.hash(oneMegabyte)).rejects.toMatchObject({ code: 'validation_failed' });
      expect(await hasher.verify(stored, oneMegabyte)).toBe(false);
      expect(await hasher.verifyUnknownUser(oneMegabyte)).toBe(false);
      expect(performance.now() - start).toBeLessThan(50);
      expect(hashSpy).not.toHaveBeenCalled();
      expect(verifySpy).not.toHaveBeenCalled();
      // The spies do see the hasher's calls: a normal password reaches argon2.
      await hasher.verify(stored, 'short');
      expect(verifySpy).toHaveBeenCalledTimes(1);
    });

    it('counts the limit in UTF-8 bytes, not characters', async () => {
      const hasher = new PasswordHasher();
      const fourByteChars = '\u{1F511}'.repeat(MAX_PASSWORD_BYTES / 4);
      await expect(hasher.hash(fourByteChars)).resolves.toMatch(/^\$argon2id\$/);
      await expect(hasher.hash(`${fourByteChars}x`)).rejects.toMatchObject({ code: 'validation_failed' });
    });
  });
});
