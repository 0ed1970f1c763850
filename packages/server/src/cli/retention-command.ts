import { Command } from 'commander';
import { systemClock } from '../clock.ts';
import { allTenantIds, recordCliAccess } from './cli-access-record.ts';
import { withCliSecurity } from './cli-storage.ts';

/**
 * `parley retention plan [--tenant ID]`: the dry run of the retention sweeper (docs/privacy.md, "Retention
 * and legal hold"). Prints one JSON line per tenant: per rule, how many rows the next sweep would delete and
 * how many a legal hold keeps. Counts only, never contents; nothing is deleted.
 */
export function retentionCommand(): Command {
  const retention = new Command('retention').description('Retention rules and the sweeper');
  retention
    .command('plan')
    .description('Show what the next retention sweep would delete (counts per rule), without deleting')
    .option('--tenant <id>', 'tenant id (default: every tenant)')
    .action(async ({ tenant }: { tenant?: string }) => {
      // Loaded on use, not at start-up: `parley --help` and the other commands need none of it.
      const [
        { AuditLog },
        { createRetentionService },
        { createLegalHoldService },
        { planRetention },
        targets,
      ] = await Promise.all([
        import('../compliance/audit/audit-log.ts'),
        import('../compliance/retention/retention-service.ts'),
        import('../compliance/retention/legal-hold-service.ts'),
        import('../compliance/retention/retention-plan.ts'),
        import('../compliance/retention/retention-targets.ts'),
      ]);
      await withCliSecurity(async (storage, security) => {
        const audit = new AuditLog({
          fieldCipher: security.fieldCipher,
          signingKeys: security.signingKeys,
          clock: systemClock,
          dialect: storage.dialect,
        });
        const { retentionTargets } = targets;
        const rules = createRetentionService({
          storage,
          audit,
          clock: systemClock,
          dialogExists: (tx, tenantId, dialogId) => retentionTargets.exists(tx, tenantId, 'dialog', dialogId),
          managesDialog: (tx, tenantId, dialogId, userId) =>
            retentionTargets.managesDialog(tx, tenantId, dialogId, userId),
        });
        const holds = createLegalHoldService({
          storage,
          audit,
          clock: systemClock,
          fieldCipher: security.fieldCipher,
          targetExists: (tx, tenantId, type, id) => retentionTargets.exists(tx, tenantId, type, id),
        });
        const tenantIds = tenant === undefined ? await allTenantIds(storage) : [tenant];
        await recordCliAccess(storage, security, 'retention plan', tenantIds);
        for (const tenantId of tenantIds) {
          const plan = await planRetention({ storage, clock: systemClock, rules, holds }, tenantId);
          process.stdout.write(`${JSON.stringify({ tenantId, ...plan })}\n`);
        }
      });
    });
  return retention;
}
