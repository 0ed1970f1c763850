import { Command, InvalidArgumentError, Option } from 'commander';
import { systemClock } from '../clock.ts';
import { recordCliAccess } from './cli-access-record.ts';
import { withCliSecurity } from './cli-storage.ts';

const instant = (value: string): number => {
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new InvalidArgumentError('must be an ISO 8601 date or date-time');
  return parsed;
};

/**
 * `parley support review --since <date> [--until <date>] [--format json|text]`: the periodic review report of
 * support access (docs/security.md, "Periodic review") — every grant in the window, who asked and decided,
 * its scope and duration, every access made under it — with the hash a security officer signs. The CLI does
 * not sign: it cannot tell who runs it (an OS account is not a staff identity), so a review is signed over
 * `POST /v1/platform/support-reviews` by a signed-in security officer (password and TOTP).
 */
export function supportCommand(): Command {
  const support = new Command('support').description('Operator support access');
  support
    .command('review')
    .description('Print the periodic review report of support access grants and their accesses')
    .requiredOption('--since <date>', 'start of the window (inclusive), ISO 8601', instant)
    .option('--until <date>', 'end of the window (exclusive), ISO 8601; default now', instant)
    .addOption(new Option('--format <format>', 'json or text').choices(['json', 'text']).default('json'))
    .action(async ({ since, until, format }: { since: number; until?: number; format: 'json' | 'text' }) => {
      // Loaded on use, not at start-up: `parley --help` and the other commands need none of it.
      const [{ AuditLog }, { createSupportReviewService }, { supportReviewText }] = await Promise.all([
        import('../compliance/audit/audit-log.ts'),
        import('../compliance/support-access/support-review-service.ts'),
        import('../compliance/support-access/support-review-presenter.ts'),
      ]);
      const window = { since, until: until ?? systemClock.now() };
      const report = await withCliSecurity(async (storage, security, config) => {
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
        const audit = new AuditLog({
          fieldCipher: security.fieldCipher,
          signingKeys: security.signingKeys,
          clock: systemClock,
          dialect: storage.dialect,
        });
        const reviews = createSupportReviewService({
          storage,
          audit,
          clock: systemClock,
          periodDays: config.supportReviewDays,
        });
        return reviews.report(window);
      });
      process.stdout.write(
        format === 'text' ? supportReviewText(report) : `${JSON.stringify(report, null, 2)}\n`,
      );
    });
  return support;
}
