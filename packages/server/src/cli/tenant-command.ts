import { Command } from 'commander';
import { systemClock } from '../clock.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import { withCliSecurity } from './cli-storage.ts';

async function withTenantService<T>(work: (tenants: TenantService) => Promise<T>): Promise<T> {
  // Loaded on use, not at start-up: `parley --help` and the other commands need none of it.
  const [{ createTenantService }, { openAuditAnchors }, { AuditLog }] = await Promise.all([
    import('../tenancy/tenant-service.ts'),
    import('../compliance/audit/audit-anchors.ts'),
    import('../compliance/audit/audit-log.ts'),
  ]);
  return withCliSecurity((storage, security, config) => {
    const audit = new AuditLog({
      fieldCipher: security.fieldCipher,
      signingKeys: security.signingKeys,
      clock: systemClock,
      dialect: storage.dialect,
      anchors: openAuditAnchors({
        file: config.auditAnchorFile,
        webhookUrl: config.auditAnchorWebhookUrl,
        signingKeys: security.signingKeys,
        clock: systemClock,
      }),
    });
    const tenants = createTenantService({
      storage,
      clock: systemClock,
      audit,
      setupTokenTtlSeconds: config.setupTokenTtlSeconds,
    });
    // The webhook copy of a new tenant's anchor is sent in the background: wait for it before exiting.
    return work(tenants).finally(() => audit.idle());
  });
}

const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

export function tenantCommand(): Command {
  const tenant = new Command('tenant').description('Create and list tenants');
  tenant
    .command('create')
    .description('Create a tenant; prints its id and a one-time owner setup token as JSON')
    .requiredOption('--name <name>', 'tenant display name')
    .action(async ({ name }: { name: string }) => {
      const created = await withTenantService((tenants) => tenants.createTenant(name));
      printJson(created);
      if (created.anchorError !== undefined) {
        process.stderr.write(
          `warning: the tenant was created, but its audit chain is not anchored outside the database yet ` +
            `(${created.anchorError}); the server's checkpoint job anchors it on its next pass\n`,
        );
        process.exitCode = 3;
      }
    });
  tenant
    .command('list')
    .description('List tenants as JSON')
    .action(async () => {
      printJson(await withTenantService((tenants) => tenants.listTenants()));
    });
  return tenant;
}
