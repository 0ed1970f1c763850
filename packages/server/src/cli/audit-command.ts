import { Command } from 'commander';
import { systemClock } from '../clock.ts';
import { SYSTEM_TENANT_ID } from '../compliance/audit/audit-entry.ts';
import { AuditLog } from '../compliance/audit/audit-log.ts';
import { withCliSecurity } from './cli-storage.ts';

/**
 * `parley audit verify [--tenant ID]`: recomputes the audit hash chains and checks their signed checkpoints.
 * Prints one JSON line per chain; exit code 0 when every chain is intact, 1 when any is not.
 */
export function auditCommand(): Command {
  const audit = new Command('audit').description('Check the tamper-evident audit log');
  audit
    .command('verify')
    .description('Verify the audit chain of one tenant, or of every tenant and the system chain')
    .option('--tenant <id>', 'tenant id (default: every tenant, then the system chain)')
    .action(async ({ tenant }: { tenant?: string }) => {
      const allIntact = await withCliSecurity(async (storage, security) => {
        const auditLog = new AuditLog({
          fieldCipher: security.fieldCipher,
          signingKeys: security.signingKeys,
          clock: systemClock,
          dialect: storage.dialect,
        });
        const tenantIds =
          tenant === undefined
            ? [
                ...(
                  await storage.withSystem((tx) =>
                    tx.selectFrom('tenants').select('id').orderBy('created_at').orderBy('id').execute(),
                  )
                ).map((row) => row.id),
                SYSTEM_TENANT_ID,
              ]
            : [tenant];
        let intact = true;
        // One chain at a time: each verification opens its own transactions, never inside another.
        for (const tenantId of tenantIds) {
          const result = await auditLog.verify(storage, tenantId);
          process.stdout.write(`${JSON.stringify({ tenantId, ...result })}\n`);
          intact &&= result.ok;
        }
        return intact;
      });
      if (!allIntact) process.exitCode = 1;
    });
  return audit;
}
