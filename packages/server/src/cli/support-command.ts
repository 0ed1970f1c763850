import { Command, InvalidArgumentError, Option } from 'commander';
import { systemClock } from '../clock.ts';
import type { SecurityCore } from '../crypto/security-core.ts';
import type { Storage } from '../storage/database.ts';
import { recordCliAccess } from './cli-access-record.ts';
import { withCliSecurity } from './cli-storage.ts';

const instant = (value: string): number => {
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new InvalidArgumentError('must be an ISO 8601 date or date-time');
  return parsed;
};

const sha256Hex = (value: string): string => {
  if (!/^[0-9a-f]{64}$/.test(value)) throw new InvalidArgumentError('must be a report hash (64 hex digits)');
  return value;
};

interface ReviewOptions {
  since: number;
  until?: number;
  format: 'json' | 'text';
  sign?: string;
  email?: string;
  code?: string;
}

/** The first line of standard input: where `--sign` takes the officer's password (never an argument). */
async function passwordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (password === '') throw new Error('--sign reads the security officer’s password from standard input');
  return password;
}

async function reviewServices(storage: Storage, security: SecurityCore, periodDays: number) {
  // Loaded on use, not at start-up: `parley --help` and the other commands need none of it.
  const [{ AuditLog }, { createSupportReviewService }] = await Promise.all([
    import('../compliance/audit/audit-log.ts'),
    import('../compliance/support-access/support-review-service.ts'),
  ]);
  const audit = new AuditLog({
    fieldCipher: security.fieldCipher,
    signingKeys: security.signingKeys,
    clock: systemClock,
    dialect: storage.dialect,
  });
  return {
    audit,
    reviews: createSupportReviewService({
      storage,
      audit,
      fieldCipher: security.fieldCipher,
      clock: systemClock,
      periodDays,
    }),
  };
}

/**
 * Signs a review as a security officer who proves who they are as on the API: e-mail, password (from standard
 * input) and a current TOTP code, through the staff service's sign-in (the code works once). The session it
 * opens is ended at once; sign-in, signature and sign-out are in the platform chain.
 */
async function signAsOfficer(
  storage: Storage,
  security: SecurityCore,
  services: Awaited<ReturnType<typeof reviewServices>>,
  input: {
    email: string;
    password: string;
    code: string;
    window: { since: number; until: number };
    hash: string;
  },
) {
  const [{ createStaffService }, { PasswordHasher }, { MemoryCounter }] = await Promise.all([
    import('../platform/staff-service.ts'),
    import('../identity/passwords/password-hasher.ts'),
    import('../counters/memory-counter.ts'),
  ]);
  const staff = createStaffService({
    storage,
    counter: new MemoryCounter(systemClock),
    keyring: security.keyring,
    fieldCipher: security.fieldCipher,
    blindIndex: security.blindIndex,
    hasher: new PasswordHasher(),
    audit: services.audit,
    clock: systemClock,
  });
  // A hash that is not this window's is refused before anyone signs in (sign() checks it again).
  if ((await services.reviews.report(input.window)).reportHash !== input.hash) {
    const { AppError } = await import('../app-error.ts');
    throw new AppError('support_review_hash_mismatch');
  }
  const session = await staff.signIn({ email: input.email, password: input.password, code: input.code });
  const officer = await staff.authenticate(session.accessToken);
  if (typeof officer === 'string') throw new Error('the staff session could not be opened');
  try {
    return await services.reviews.sign(officer, { ...input.window, reportHash: input.hash });
  } finally {
    await staff.signOut(officer);
  }
}

/**
 * `parley support review --since <date> [--until <date>] [--format json|text]`: the periodic review report of
 * support access (docs/security.md, "Periodic review") — every grant in the window, who asked and decided,
 * its scope and duration, every access made under it — with the hash a security officer signs. With
 * `--sign <hash> --email <address> --code <totp>` and the password on standard input, a security officer signs
 * the review of that window, as `POST /v1/platform/support-reviews` does.
 */
export function supportCommand(): Command {
  const support = new Command('support').description('Operator support access');
  support
    .command('review')
    .description('Print the periodic review report of support access grants and their accesses, or sign it')
    .requiredOption('--since <date>', 'start of the window (inclusive), ISO 8601', instant)
    .option('--until <date>', 'end of the window (exclusive), ISO 8601; default now', instant)
    .addOption(new Option('--format <format>', 'json or text').choices(['json', 'text']).default('json'))
    .option('--sign <hash>', 'sign the review of the window whose report has this hash', sha256Hex)
    .option('--email <address>', 'with --sign: the security officer’s staff e-mail address')
    .option('--code <totp>', 'with --sign: a current code of the officer’s authenticator')
    .action(async (options: ReviewOptions) => {
      if (options.sign !== undefined && (options.email === undefined || options.code === undefined))
        throw new InvalidArgumentError(
          '--sign needs --email and --code (and the password on standard input)',
        );
      const { supportReviewText } = await import('../compliance/support-access/support-review-presenter.ts');
      const window = { since: options.since, until: options.until ?? systemClock.now() };
      const password = options.sign === undefined ? undefined : await passwordFromStdin();
      await withCliSecurity(async (storage, security, config) => {
        const services = await reviewServices(storage, security, config.supportReviewDays);
        // The tenants whose grants may be in the window are told before their chains are read.
        const tenants = await storage.withSystem((tx) =>
          tx
            .selectFrom('support_grants')
            .select('tenant_id')
            .distinct()
            .where('requested_at', '<', window.until)
            .execute(),
        );
        await recordCliAccess(
          storage,
          security,
          'support review',
          tenants.map((row) => row.tenant_id),
        );
        if (options.sign !== undefined && password !== undefined) {
          const row = await signAsOfficer(storage, security, services, {
            email: options.email ?? '',
            password,
            code: options.code ?? '',
            window,
            hash: options.sign,
          });
          const { presentSupportReview } =
            await import('../compliance/support-access/support-review-presenter.ts');
          process.stdout.write(`${JSON.stringify(presentSupportReview(row), null, 2)}\n`);
          return;
        }
        const report = await services.reviews.report(window);
        process.stdout.write(
          options.format === 'text' ? supportReviewText(report) : `${JSON.stringify(report, null, 2)}\n`,
        );
      });
    });
  return support;
}
