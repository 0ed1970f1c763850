import { Command, InvalidArgumentError } from 'commander';
import { systemClock } from '../clock.ts';
import type { SecurityCore } from '../crypto/security-core.ts';
import type { Storage } from '../storage/database.ts';
import { recordCliAccess } from './cli-access-record.ts';
import { withCliSecurity } from './cli-storage.ts';

const parseTime = (value: string): number => {
  const at = Date.parse(value);
  if (Number.isNaN(at))
    throw new InvalidArgumentError('expected an ISO 8601 time, e.g. 2026-01-31T00:00:00Z');
  return at;
};

interface QueryOptions {
  tenant: string;
  dialog?: string;
  reader?: string;
  author?: string;
  from?: number;
  to?: number;
}

/** Opens what both subcommands need: the audit log (for the chain) and the access log's service. */
async function openAccessLog(storage: Storage, security: SecurityCore) {
  const [{ AuditLog }, { createAccessLogService }, { verifyAccessLog }] = await Promise.all([
    import('../compliance/audit/audit-log.ts'),
    import('../compliance/access-log/access-log-service.ts'),
    import('../compliance/access-log/access-log-verifier.ts'),
  ]);
  const audit = new AuditLog({
    fieldCipher: security.fieldCipher,
    signingKeys: security.signingKeys,
    clock: systemClock,
    dialect: storage.dialect,
  });
  return {
    service: createAccessLogService({ storage, audit }),
    verify: (tenantId: string) => verifyAccessLog(storage, audit, tenantId),
  };
}

/**
 * `parley access-log query --tenant ID [--dialog ID] [--reader ID] [--author ID] [--from T] [--to T]`: who
 * read a dialog (or a user's messages, or what a user read) between two times, one JSON line per record,
 * oldest first. `parley access-log verify --tenant ID`: the records against the audit chain that chains
 * them; exit code 1 when they do not verify. Both are recorded in the tenant's audit chain
 * (`operator.cli_access`; a query also as `access_log.read`).
 */
export function accessLogCommand(): Command {
  const command = new Command('access-log').description('Who read what (HIPAA access logging)');
  command
    .command('query')
    .description('Print the access records matching the filter, oldest first, one JSON line each')
    .requiredOption('--tenant <id>', 'tenant id')
    .option('--dialog <id>', 'who read this dialog')
    .option('--reader <id>', 'what this user (or staff member) read')
    .option('--author <id>', "who read this user's messages, files or data export")
    .option('--from <time>', 'reads going on at or after this time (ISO 8601)', parseTime)
    .option('--to <time>', 'reads that began before this time (ISO 8601)', parseTime)
    .action(async (options: QueryOptions) => {
      await withCliSecurity(async (storage, security) => {
        await recordCliAccess(storage, security, 'access-log query', [options.tenant]);
        const { service } = await openAccessLog(storage, security);
        const filter = {
          dialogId: options.dialog,
          readerId: options.reader,
          authorId: options.author,
          from: options.from,
          to: options.to,
        };
        let cursor: string | undefined;
        do {
          const page = await service.query(
            options.tenant,
            { actor: { type: 'system' }, context: {} },
            filter,
            { cursor, limit: 500 },
          );
          for (const record of page.records) process.stdout.write(`${JSON.stringify(record)}\n`);
          cursor = page.nextCursor;
        } while (cursor !== undefined);
      });
    });
  command
    .command('verify')
    .description('Check the access records of a tenant against its audit chain')
    .requiredOption('--tenant <id>', 'tenant id')
    .action(async ({ tenant }: { tenant: string }) => {
      const result = await withCliSecurity(async (storage, security) => {
        await recordCliAccess(storage, security, 'access-log verify', [tenant]);
        return (await openAccessLog(storage, security)).verify(tenant);
      });
      process.stdout.write(`${JSON.stringify({ tenantId: tenant, ...result })}\n`);
      if (!result.ok) process.exitCode = 1;
    });
  return command;
}
