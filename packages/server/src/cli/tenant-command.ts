import { Command } from 'commander';
import { systemClock } from '../clock.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import type { TenantCloseService, TenantStage } from '../tenancy/tenant-close-service.ts';
import { recordCliAccess } from './cli-access-record.ts';
import { withCliSecurity } from './cli-storage.ts';

/**
 * Opens the tenant services; with `access`, first records `operator.cli_access` in that tenant's audit chain
 * (the command reads the tenant: docs/security.md, "What the operator can still do").
 */
async function withTenantService<T>(
  work: (tenants: TenantService, closures: TenantCloseService) => Promise<T>,
  access?: { command: string; tenantId: string },
): Promise<T> {
  // Loaded on use, not at start-up: `parley --help` and the other commands need none of it.
  const [
    { createTenantService },
    { openAuditAnchors },
    { AuditLog },
    { createTenantCloseService },
    { createTenantPurge },
    { legalHoldStore },
  ] = await Promise.all([
    import('../tenancy/tenant-service.ts'),
    import('../compliance/audit/audit-anchors.ts'),
    import('../compliance/audit/audit-log.ts'),
    import('../tenancy/tenant-close-service.ts'),
    import('../tenancy/tenant-purge.ts'),
    import('../compliance/retention/legal-hold-store.ts'),
  ]);
  return withCliSecurity(async (storage, security, config) => {
    if (access) await recordCliAccess(storage, security, access.command, [access.tenantId]);
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
    const closures = createTenantCloseService({
      storage,
      clock: systemClock,
      audit,
      purge: createTenantPurge({
        storage,
        clock: systemClock,
        audit,
        keyring: security.keyring,
        signingKeys: security.signingKeys,
        // As in app-services.ts: a hold on the tenant, or on anything in it, refuses the purge.
        holds: (tenantId) =>
          storage.withTenant(tenantId, async (tx) => {
            const inForce = await legalHoldStore.list(tx, tenantId, systemClock.now());
            return inForce.length > 0;
          }),
      }),
    });
    // The webhook copy of a new tenant's anchor is sent in the background: wait for it before exiting.
    return work(tenants, closures).finally(() => audit.idle());
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
    .description('List tenants as JSON; with --stage, their termination stage (purged ones included)')
    .option('--stage <stages>', 'comma-separated: active, closed, purging, purged (or all)')
    .action(async ({ stage }: { stage?: string }) => {
      if (stage === undefined) {
        printJson(await withTenantService((tenants) => tenants.listTenants()));
        return;
      }
      const wanted = parseStages(stage);
      printJson(await withTenantService((_tenants, closures) => closures.list(wanted)));
    });
  tenant
    .command('close')
    .description('Close a tenant: read-only now, exportable for the export window, then purged with its keys')
    .argument('<tenantId>', 'the tenant to close')
    .option('--export-days <days>', 'days of the export window before the purge', '30')
    .action(async (tenantId: string, { exportDays }: { exportDays: string }) => {
      const days = Number(exportDays);
      printJson(
        await withTenantService(
          (_tenants, closures) => closures.close(tenantId, { type: 'operator' }, { exportWindowDays: days }),
          { command: 'tenant close', tenantId },
        ),
      );
    });
  tenant
    .command('reopen')
    .description('Reopen a closed tenant during its export window')
    .argument('<tenantId>', 'the tenant to reopen')
    .action(async (tenantId: string) => {
      printJson(
        await withTenantService((_tenants, closures) => closures.reopen(tenantId, { type: 'operator' }), {
          command: 'tenant reopen',
          tenantId,
        }),
      );
    });
  tenant
    .command('status')
    .description("A tenant's stage, export window and, once purged, its signed certificate of deletion")
    .argument('<tenantId>', 'the tenant')
    .action(async (tenantId: string) => {
      printJson(
        await withTenantService((_tenants, closures) => closures.status(tenantId), {
          command: 'tenant status',
          tenantId,
        }),
      );
    });
  tenant
    .command('purge-due')
    .description('Run now the purges that are due (the server runs them every ten minutes by itself)')
    .action(async () => {
      printJson(await withTenantService((_tenants, closures) => closures.purgeDue()));
    });
  return tenant;
}

const stageNames: readonly TenantStage[] = ['active', 'closed', 'purging', 'purged'];

function parseStages(text: string): TenantStage[] {
  if (text === 'all') return [...stageNames];
  const wanted = text.split(',').map((part) => part.trim());
  for (const stage of wanted)
    if (!(stageNames as readonly string[]).includes(stage))
      throw new Error(`unknown stage "${stage}" (one of ${stageNames.join(', ')}, or all)`);
  return wanted as TenantStage[];
}
