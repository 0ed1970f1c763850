import type { SignedComplianceReport } from '@parley/protocol';
import { Command, Option } from 'commander';
import { systemClock } from '../clock.ts';
import { tls12Ciphers } from '../http/tls-options.ts';
import { withCliSecurity } from './cli-storage.ts';

/**
 * `parley compliance report [--tenant ID] --format html|json [--out FILE]`: the signed evidence report
 * (docs/compliance.md, "Evidence report"), computed from live state now; a tenant's report is recorded in
 * that tenant's audit chain. `parley compliance verify FILE`: checks a copy (JSON or HTML) — intact, and
 * signed by one of this installation's audit keys; exit code 0 when it is, 1 when it is not.
 */
export function complianceCommand(): Command {
  const compliance = new Command('compliance').description('Compliance evidence report');
  compliance
    .command('report')
    .description('Build and sign the compliance evidence report from live state')
    .option('--tenant <id>', 'tenant id (default: installation-wide controls only)')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'html']).default('json'))
    .option('--out <file>', 'write to this file (mode 0600) instead of standard output')
    .action(async (options: { tenant?: string; format: 'json' | 'html'; out?: string }) => {
      // Loaded on use, not at start-up: `parley --help` and the other commands need none of it.
      const [{ AuditLog }, { openAuditAnchors }, report, retention, targets, { createSupportReviewService }] =
        await Promise.all([
          import('../compliance/audit/audit-log.ts'),
          import('../compliance/audit/audit-anchors.ts'),
          import('../compliance/evidence-report/index.ts'),
          import('../compliance/retention/retention-service.ts'),
          import('../compliance/retention/retention-targets.ts'),
          import('../compliance/support-access/support-review-service.ts'),
        ]);
      const text = await withCliSecurity(async (storage, security, config) => {
        const audit = new AuditLog({
          fieldCipher: security.fieldCipher,
          signingKeys: security.signingKeys,
          clock: systemClock,
          dialect: storage.dialect,
          anchors: openAuditAnchors({
            file: config.auditAnchorFile,
            signingKeys: security.signingKeys,
            clock: systemClock,
          }),
        });
        const { retentionTargets } = targets;
        const rules = retention.createRetentionService({
          storage,
          audit,
          clock: systemClock,
          dialogExists: (tx, tenantId, dialogId) => retentionTargets.exists(tx, tenantId, 'dialog', dialogId),
          managesDialog: (tx, tenantId, dialogId, userId) =>
            retentionTargets.managesDialog(tx, tenantId, dialogId, userId),
        });
        const reviews = createSupportReviewService({
          storage,
          audit,
          fieldCipher: security.fieldCipher,
          clock: systemClock,
          periodDays: config.supportReviewDays,
        });
        const service = report.evidenceReportServiceFor({
          config,
          tls12Ciphers: tls12Ciphers.split(':'),
          storage,
          signingKeys: security.signingKeys,
          audit,
          clock: systemClock,
          retentionRules: (tenantId) => rules.get(tenantId),
          // The same periodic review status the API's report shows (docs/security.md, "Periodic review").
          supportReview: (now) => reviews.status(now),
        });
        const signed = await service.issue({ tenantId: options.tenant, requestedBy: 'cli' });
        return options.format === 'html'
          ? report.renderReportHtml(signed)
          : `${JSON.stringify(signed, null, 2)}\n`;
      });
      if (options.out === undefined) {
        process.stdout.write(text);
        return;
      }
      const { writeFile } = await import('node:fs/promises');
      await writeFile(options.out, text, { mode: 0o600 });
    });
  compliance
    .command('verify')
    .description('Check a copy of a signed evidence report (JSON or HTML)')
    .argument('<file>', 'the report file')
    .action(async (file: string) => {
      const [{ readFile }, report] = await Promise.all([
        import('node:fs/promises'),
        import('../compliance/evidence-report/index.ts'),
      ]);
      const content = await readFile(file, 'utf8');
      const html = !content.trimStart().startsWith('{');
      let copy: unknown;
      try {
        copy = JSON.parse((html ? report.signedJsonInHtml(content) : content) ?? '');
      } catch {
        copy = undefined;
      }
      const check = await withCliSecurity((_storage, security) =>
        report.verifyReport(copy, security.signingKeys),
      );
      // A page is the rendering of its signed JSON, byte for byte: an edit to the visible text is tampering too.
      const result =
        check.ok && html && report.renderReportHtml(copy as SignedComplianceReport) !== content
          ? { ok: false as const, reason: 'html_altered' as const }
          : check;
      process.stdout.write(`${JSON.stringify({ file, ...result })}\n`);
      if (!result.ok) process.exitCode = 1;
    });
  return compliance;
}
