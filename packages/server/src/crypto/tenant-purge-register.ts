import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir } from '../bootstrap/data-dir.ts';
import type { Storage } from '../storage/database.ts';

/** One purged tenant: its keys were destroyed at `at`. */
export interface TenantPurgeEntry {
  tenantId: string;
  at: number;
}

/** The register's file: beside the erasure register, so both travel with the master key, outside backups. */
export const tenantPurgeRegisterFile = (erasureLogFile: string): string =>
  path.join(path.dirname(erasureLogFile), 'purged-tenants.log');

/**
 * The tenants whose keys a purge destroyed (docs/privacy.md, "Tenant termination"). A database copy taken before
 * the purge still holds the tenant's wrapped keys; this register, kept outside the database like the erasure
 * register, is what makes every such copy unreadable at once: at start-up the keyring deletes the keys of every
 * tenant named here from whatever database it opens, and refuses to open or create a key for them afterwards.
 * Append-only JSON lines, fsynced before the purge deletes anything.
 */
export class TenantPurgeRegister {
  readonly #file: string;
  readonly #purged = new Set<string>();

  constructor(file: string) {
    this.#file = file;
    for (const entry of this.entries()) this.#purged.add(entry.tenantId);
  }

  has(tenantId: string): boolean {
    return this.#purged.has(tenantId);
  }

  record(entry: TenantPurgeEntry): void {
    if (this.#purged.has(entry.tenantId)) return;
    ensurePrivateDir(path.dirname(this.#file));
    const fd = openSync(this.#file, 'a', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(entry)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.#purged.add(entry.tenantId);
  }

  entries(): TenantPurgeEntry[] {
    if (!existsSync(this.#file)) return [];
    return readFileSync(this.#file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((line) => {
        // A line torn by a crash during its append was never fsynced, so that purge never deleted anything.
        try {
          return [JSON.parse(line) as TenantPurgeEntry];
        } catch {
          return [];
        }
      });
  }

  /**
   * Deletes, in `storage`, every key of every registered tenant (a restore brought them back). Returns how many
   * key rows it deleted.
   */
  async reapply(storage: Storage): Promise<number> {
    let deleted = 0;
    for (const tenantId of this.#purged) deleted += await destroyTenantKeyRows(storage, tenantId);
    return deleted;
  }
}

/** Deletes the tenant's wrapped data and index keys and its users' wrapped keys; returns how many rows. */
export async function destroyTenantKeyRows(storage: Storage, tenantId: string): Promise<number> {
  return storage.withTenant(tenantId, async (tx) => {
    const users = await tx.deleteFrom('user_keys').where('tenant_id', '=', tenantId).executeTakeFirst();
    const tenant = await tx.deleteFrom('tenant_keys').where('tenant_id', '=', tenantId).executeTakeFirst();
    return Number(users.numDeletedRows) + Number(tenant.numDeletedRows);
  });
}
