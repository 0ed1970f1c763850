import { Command } from 'commander';
import { systemClock } from '../clock.ts';
import { recordCliAccess } from './cli-access-record.ts';
import { withCliSecurity } from './cli-storage.ts';

/**
 * `parley audit verify [--tenant ID]`: recomputes the audit hash chains, checks their signed checkpoints,
 * and compares them with the anchor file kept outside the database (`PARLEY_AUDIT_ANCHOR_FILE`), which
 * reveals a chain cut back, rolled back or deleted. Prints one JSON line for the anchor file, then one per
 * chain; exit code 0 when the file and every chain are intact, 1 when any is not.
 */
export function auditCommand(): Command {
  const audit = new Command('audit').description('Check the tamper-evident audit log');
  audit
    .command('verify')
    .description(
      'Verify the audit chain of one tenant, or of every tenant and the system and platform chains',
    )
    .option(
      '--tenant <id>',
      'tenant id (default: every tenant, every anchored tenant, then the system and platform chains)',
    )
    .action(async ({ tenant }: { tenant?: string }) => {
      // Loaded on use, not at start-up: `parley --help` and the other commands need none of it.
      const [{ openAuditAnchors }, { NON_TENANT_CHAINS }, { AuditLog }, { provenPurges }] = await Promise.all(
        [
          import('../compliance/audit/audit-anchors.ts'),
          import('../compliance/audit/audit-entry.ts'),
          import('../compliance/audit/audit-log.ts'),
          import('../tenancy/tenant-purge.ts'),
        ],
      );
      const allIntact = await withCliSecurity(async (storage, security, config) => {
        const anchors = openAuditAnchors({
          file: config.auditAnchorFile,
          signingKeys: security.signingKeys,
          clock: systemClock,
        });
        const auditLog = new AuditLog({
          fieldCipher: security.fieldCipher,
          signingKeys: security.signingKeys,
          clock: systemClock,
          dialect: storage.dialect,
        });
        const { contents, finding } = await anchors.read(storage);
        const anchorFile = { anchorFile: anchors.file, ok: !finding, lines: contents.mark?.line ?? 0 };
        process.stdout.write(
          `${JSON.stringify(finding ? { ...anchorFile, firstBad: finding } : anchorFile)}\n`,
        );
        const tenantIds = new Set(
          (
            await storage.withSystem((tx) =>
              tx.selectFrom('tenants').select('id').orderBy('created_at').orderBy('id').execute(),
            )
          ).map((row) => row.id),
        );
        // A tenant the anchors know of but the database does not was deleted with its chain: check it too.
        for (const anchored of contents.anchors.keys()) tenantIds.add(anchored);
        for (const chain of NON_TENANT_CHAINS) tenantIds.delete(chain);
        const chains = tenant === undefined ? [...tenantIds, ...NON_TENANT_CHAINS] : [tenant];
        let intact = !finding;
        // One chain at a time: each verification opens its own transactions, never inside another.
        // A tenant purged at the end of its closure (docs/privacy.md, "Tenant termination") has no chain on
        // purpose: explained by its certificate of deletion, signed with a trusted audit key, not hidden.
        const purged = await provenPurges(storage, security.signingKeys);
        for (const tenantId of chains) {
          const purge = purged.get(tenantId);
          if (purge) {
            process.stdout.write(`${JSON.stringify({ tenantId, ok: true, purged: purge })}\n`);
            continue;
          }
          const result = await auditLog.verify(storage, tenantId, {
            anchored: contents.anchors.get(tenantId),
            mustExist: !NON_TENANT_CHAINS.includes(tenantId),
          });
          process.stdout.write(`${JSON.stringify({ tenantId, ...result })}\n`);
          intact &&= result.ok;
        }
        // Break-glass is visible: each tenant chain read is told so, after it was verified as found.
        await recordCliAccess(
          storage,
          security,
          'audit verify',
          chains.filter((chain) => !NON_TENANT_CHAINS.includes(chain) && !purged.has(chain)),
        );
        return intact;
      });
      if (!allIntact) process.exitCode = 1;
    });
  return audit;
}
