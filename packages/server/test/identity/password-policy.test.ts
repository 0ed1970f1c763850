import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PasswordHasher } from '../../src/identity/passwords/password-hasher.ts';
import {
  commonPasswordCount,
  DEFAULT_PASSWORD_POLICY,
  evaluatePassword,
  isMfaRequired,
  isPasswordExpired,
  lockoutDelaySeconds,
  type PasswordContext,
  type PasswordPolicy,
  passwordPolicySchema,
  type PasswordRule,
} from '../../src/identity/passwords/password-policy.ts';

const hasher = new PasswordHasher();
const deps = { hasher };
// Deliberately rare words, so that personal-information refusals are not also common-password ones.
const user: PasswordContext = {
  displayName: 'Zephyrine Quillfeather',
  email: 'z.quillfeather@brambleworks.example',
  tenantName: 'Ostrander Tidewell',
};
const strong = 'violet tractor harbour sings';

const policy = (overrides: Partial<PasswordPolicy> = {}): PasswordPolicy => ({
  ...DEFAULT_PASSWORD_POLICY,
  ...overrides,
});

async function rulesBroken(password: string, p = policy(), context = user): Promise<PasswordRule[]> {
  return (await evaluatePassword(password, p, context, deps)).map((v) => v.rule);
}

describe('passwordPolicySchema', () => {
  it('fills in the documented defaults', () => {
    expect(passwordPolicySchema.parse({})).toEqual({
      minLength: 12,
      maxLength: 128,
      requireUpper: false,
      requireLower: false,
      requireDigit: false,
      requireSymbol: false,
      historyCount: 5,
      maxAgeDays: 0,
      lockout: { maxFailures: 5, baseDelaySeconds: 30, maxDelaySeconds: 3600 },
      ipLockout: { maxFailures: 50, windowSeconds: 900 },
      mfaRequiredRoles: [],
      minStrengthScore: 3,
    });
  });

  it('refuses settings weaker than the floor, inconsistent ranges and unknown keys', () => {
    for (const bad of [
      { minLength: 7 },
      { maxLength: 63 },
      { maxLength: 4097 },
      { minLength: 100, maxLength: 64 },
      { historyCount: 25 },
      { maxAgeDays: 3651 },
      { lockout: { baseDelaySeconds: 600, maxDelaySeconds: 60 } },
      { minLenght: 20 },
    ]) {
      expect(passwordPolicySchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('evaluatePassword', () => {
  it('accepts a strong passphrase unrelated to the user', async () => {
    const all = policy({ requireUpper: true, requireLower: true, requireDigit: true, requireSymbol: true });
    expect(await evaluatePassword(strong, policy(), user, deps)).toEqual([]);
    expect(await rulesBroken('Violet tractor harbour sings 9', all)).toEqual([]);
  });

  it('gives every violation a rule name and a message', async () => {
    const violations = await evaluatePassword('Kf7-qZ', policy(), user, deps);
    expect(violations).toEqual([{ rule: 'min_length', message: 'Use at least 12 characters.' }]);
  });

  it('refuses a password shorter than minLength, counted in code points after NFKC', async () => {
    expect(await rulesBroken('tiny lamp 7')).toEqual(['min_length']);
    // Eleven emoji are 22 UTF-16 units but 11 code points: still too short.
    expect(await rulesBroken('\u{1F993}'.repeat(11))).toEqual(['min_length']);
    // (Twelve of one emoji are a repeat: the strength estimate, judged elsewhere, is off here.)
    expect(await rulesBroken('\u{1F993}'.repeat(12), policy({ minStrengthScore: 0 }))).toEqual([]);
  });

  it('refuses a password longer than maxLength, and a 1 MB one without further work', async () => {
    expect(await rulesBroken('violet tractor '.repeat(9))).toEqual(['max_length']);
    const start = performance.now();
    expect(await rulesBroken('x'.repeat(1024 * 1024))).toEqual(['max_length']);
    expect(performance.now() - start).toBeLessThan(50);
  });

  it('refuses each missing character class under its own rule', async () => {
    const p = policy({ requireUpper: true, requireLower: true, requireDigit: true, requireSymbol: true });
    expect(await rulesBroken('VIOLETTRACTORHARBOUR', p)).toEqual([
      'composition_lower',
      'composition_digit',
      'composition_symbol',
    ]);
    expect(await rulesBroken('violettractorharbour', p)).toEqual([
      'composition_upper',
      'composition_digit',
      'composition_symbol',
    ]);
  });

  describe('common and breached passwords (credential stuffing, dictionary attacks)', () => {
    // Attack: attackers try leaked and popular passwords first, across many accounts. The bundled list
    // must be large enough to matter and must work offline.
    it('bundles a list of at least 100,000 passwords', async () => {
      expect(await commonPasswordCount()).toBeGreaterThanOrEqual(100_000);
    });

    it.each(['qwertyuiop123', 'password123456', 'ILoveYou2024!!', 'Football1234', '!!!sunshine2000'])(
      'refuses %s',
      async (password) => {
        expect(await rulesBroken(password)).toEqual(['common_password']);
      },
    );

    it('refuses short listed passwords too, alongside the length rule', async () => {
      expect(await rulesBroken('123456')).toEqual(['min_length', 'common_password']);
    });
  });

  describe('keyboard walks and other patterns (the strength estimate)', () => {
    // Attack: cracking tools try keyboard walks, repeats, sequences, dates and l33t spellings right after
    // the leaked lists. Many such passwords are on no list, and length alone lets "1qaz2wsx3edc" through; the
    // zxcvbn estimate beside the list refuses them.
    it.each([
      'qwertyuiop123',
      '1qaz2wsx3edc',
      "asdfghjkl;'",
      'zxcvbnm,./',
      'aaaaaaaaaaaa',
      '1234567890abcdef',
    ])('refuses %s', async (password) => {
      const rules = await rulesBroken(password, policy({ minLength: 8 }));
      expect(rules.length).toBeGreaterThan(0);
      expect(rules.every((rule) => ['common_password', 'too_guessable'].includes(rule))).toBe(true);
    });

    it.each(['zaq12wsxcde34rfv', 'poiuytrewq;lkj', 'asdfjkl;asdfjkl;', 'qwertyuiop[]asdf'])(
      'refuses %s although no list has it, and says why',
      async (password) => {
        const violations = await evaluatePassword(password, policy({ minLength: 8 }), user, deps);
        expect(violations.map((violation) => violation.rule)).toEqual(['too_guessable']);
        expect(violations[0]?.message).toMatch(
          /^This password is too easy to guess \(strength [0-2] of 4, at least 3 needed\)\. \S/,
        );
      },
    );

    it("refuses the user's own e-mail address, and spellings of it no substring test sees", async () => {
      const email = user.email ?? '';
      expect((await rulesBroken(email)).length).toBeGreaterThan(0);
      // In l33t the surname is no longer a substring, but the estimate knows the user's words.
      const disguised = 'qu1llf3ath3r-2024';
      expect(await rulesBroken(disguised)).toEqual(['too_guessable']);
      expect(await rulesBroken(disguised, policy(), {})).toEqual([]);
    });

    it("accepts a strong passphrase, and the minimum score is the tenant's to set", async () => {
      expect(await rulesBroken(strong)).toEqual([]);
      expect(await rulesBroken('zaq12wsxcde34rfv', policy({ minStrengthScore: 0 }))).toEqual([]);
      // Scores 3: enough by default, not for a tenant that asks for 4.
      expect(await rulesBroken('mnbvcxz,./lkjh')).toEqual([]);
      expect(await rulesBroken('mnbvcxz,./lkjh', policy({ minStrengthScore: 4 }))).toEqual(['too_guessable']);
    });

    it('reads only the first 64 characters, so a long password costs no more than a short one', async () => {
      // A walk for 64 characters, then randomness the estimator never reads: judged on the walk.
      const walk = 'qwertyuiop'.repeat(7).slice(0, 64);
      expect(await rulesBroken(`${walk}Xq7#vL2!pR9@`)).toEqual(['too_guessable']);
      // Unbounded, zxcvbn spends seconds on a few hundred l33t-heavy characters; read 64 and it stays fast.
      const costly = '4@3!1|0$5'.repeat(455);
      const start = performance.now();
      await rulesBroken(costly, policy({ maxLength: 4096 }));
      expect(performance.now() - start).toBeLessThan(1000);
    });
  });

  describe("the user's own name, e-mail and organisation (targeted guessing)", () => {
    // Attack: someone who knows the victim tries their name, address and employer with a year appended.
    it.each([
      ['Zephyrine2024!!!!', 'first name with padding'],
      ['Z.e.p.h.y.r.i.n.e-2024', 'name split by separators'],
      ['xyzquillfeather99xyz', 'surname inside'],
      ['brambleworks-2024', 'e-mail domain label'],
      ['z.quillfeather-42', 'e-mail local part'],
      ['ostrandertidewell-42!', 'organisation name without its space'],
      ['tidewell-houses-99', 'one word of the organisation name'],
    ])('refuses %s (%s)', async (password) => {
      expect(await rulesBroken(password)).toEqual(['contains_personal_info']);
    });

    it('says which kind of personal information was found without echoing it', async () => {
      const [violation] = await evaluatePassword('Zephyrine2024!!!!', policy(), user, deps);
      expect(violation?.message).toBe('The password must not contain your name.');
    });

    it('ignores pieces shorter than three characters and the top-level domain', async () => {
      const context = { displayName: 'Al Jo', email: 'jo@x.com', tenantName: 'QA' };
      expect(await rulesBroken('welcome albatross journey', policy(), context)).toEqual([]);
    });
  });

  describe('password history (reuse after a breach)', () => {
    // Attack: a password leaked elsewhere stays usable if the user may "change" back to it.
    it('refuses one of the last historyCount passwords and accepts a new one', async () => {
      const previous = ['old passphrase number one', 'old passphrase number two'];
      const previousHashes = await Promise.all(previous.map((pw) => hasher.hash(pw)));
      const context = { ...user, previousHashes };
      const reused = await evaluatePassword(previous[1] ?? '', policy(), context, deps);
      expect(reused.map((v) => v.rule)).toEqual(['reused_password']);
      expect(reused[0]?.message).toBe('Choose a password different from your last 5.');
      expect(await rulesBroken(strong, policy(), context)).toEqual([]);
    });

    it('only remembers historyCount passwords, newest first', async () => {
      const previousHashes = await Promise.all(
        ['newest one here', 'older one here'].map((pw) => hasher.hash(pw)),
      );
      const context = { ...user, previousHashes };
      expect(await rulesBroken('older one here', policy({ historyCount: 1 }), context)).toEqual([]);
      expect(await rulesBroken('newest one here', policy({ historyCount: 0 }), context)).toEqual([]);
    });
  });

  it('reports min_length exactly when the NFKC code-point length is below minLength', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 8, max: 40 }),
        fc.string({ unit: 'binary', maxLength: 48 }),
        async (minLength, password) => {
          const rules = await rulesBroken(password, policy({ minLength, historyCount: 0 }), {});
          const length = Array.from(password.normalize('NFKC')).length;
          expect(rules.includes('min_length')).toBe(length < minLength);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('lockoutDelaySeconds (online guessing)', () => {
  // Attack: an attacker scripts guesses against one account; each failure past the threshold doubles
  // the wait so that guessing stalls, while the cap bounds how long a legitimate user can be locked out.
  const p = policy();

  it('allows failures below the threshold without delay', () => {
    expect([0, 1, 4].map((n) => lockoutDelaySeconds(n, p))).toEqual([0, 0, 0]);
  });

  it('doubles from the base delay and stops at the cap', () => {
    expect([5, 6, 7, 8, 9, 10, 11].map((n) => lockoutDelaySeconds(n, p))).toEqual([
      30, 60, 120, 240, 480, 960, 1920,
    ]);
    expect(lockoutDelaySeconds(12, p)).toBe(3600);
    expect(lockoutDelaySeconds(10_000, p)).toBe(3600);
  });
});

describe('password age and MFA roles', () => {
  const day = 86_400_000;
  const changedAt = new Date('2026-01-01T00:00:00Z');

  it('expires a password after maxAgeDays, and never when it is 0', () => {
    const p = policy({ maxAgeDays: 90 });
    expect(isPasswordExpired(changedAt, new Date(changedAt.getTime() + 89 * day), p)).toBe(false);
    expect(isPasswordExpired(changedAt, new Date(changedAt.getTime() + 90 * day), p)).toBe(true);
    expect(isPasswordExpired(changedAt, new Date(changedAt.getTime() + 9999 * day), policy())).toBe(false);
  });

  it('requires MFA for members of the chosen roles only', () => {
    const p = policy({ mfaRequiredRoles: ['admin'] });
    expect(isMfaRequired(['member', 'admin'], p)).toBe(true);
    expect(isMfaRequired(['member'], p)).toBe(false);
  });
});
