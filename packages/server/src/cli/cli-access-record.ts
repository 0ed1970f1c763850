import { hostname, userInfo } from 'node:os';
import { systemClock } from '../clock.ts';
import type { SecurityCore } from '../crypto/security-core.ts';
import type { Storage } from '../storage/database.ts';

/** The action of the entry a CLI command that reads a tenant's data writes in that tenant's audit chain. */
export const CLI_ACCESS_ACTION = 'operator.cli_access';

/** Who ran the command on which machine: the OS account (or its uid when it has no name), host, process. */
function operatorOf(): { osUser: string; host: string; pid: number } {
  let osUser: string;
  try {
    osUser = userInfo().username;
  } catch {
    // A container user without a passwd entry has a uid only.
    osUser = `uid:${String(process.getuid?.() ?? 'unknown')}`;
  }
  return { osUser, host: hostname(), pid: process.pid };
}

/**
 * Break-glass is visible (docs/security.md, "What the operator can still do"): before a CLI command reads a
 * tenant's data, it records `operator.cli_access` in that tenant's audit chain — the command, the OS user,
 * the host and the process id; never what it read. One transaction per tenant; a failure throws, and the
 * command stops before reading anything (fail closed).
 *
 * Only chains that exist are written: a tenant without a `tenants` row (purged) or without a chain head is
 * skipped, so recording can never create a chain where `parley audit verify` must find one missing.
 */
export async function recordCliAccess(
  storage: Storage,
  security: Pick<SecurityCore, 'fieldCipher' | 'signingKeys'>,
  command: string,
  tenantIds: readonly string[],
): Promise<string[]> {
  if (tenantIds.length === 0) return [];
  const { AuditLog } = await import('../compliance/audit/audit-log.ts');
  const audit = new AuditLog({
    fieldCipher: security.fieldCipher,
    signingKeys: security.signingKeys,
    clock: systemClock,
    dialect: storage.dialect,
  });
  const details = { command, ...operatorOf() };
  const recorded: string[] = [];
  for (const tenantId of new Set(tenantIds)) {
    const written = await storage.withSystem(async (system) => {
      const known = await system
        .selectFrom('tenants')
        .innerJoin('audit_heads', 'audit_heads.tenant_id', 'tenants.id')
        .select('tenants.id')
        .where('tenants.id', '=', tenantId)
        .executeTakeFirst();
      if (!known) return false;
      const tx = await storage.enterTenant(system, tenantId);
      await audit.append(tx, tenantId, {
        actor: { type: 'system' },
        action: CLI_ACCESS_ACTION,
        outcome: 'success',
        details,
      });
      return true;
    });
    if (written) recorded.push(tenantId);
  }
  return recorded;
}

/** Every tenant's id, oldest first: what a command without `--tenant` reads. */
export async function allTenantIds(storage: Storage): Promise<string[]> {
  const rows = await storage.withSystem((tx) =>
    tx.selectFrom('tenants').select('id').orderBy('created_at').orderBy('id').execute(),
  );
  return rows.map((row) => row.id);
}
