import type { Clock } from '../clock.ts';
import type { Storage } from '../storage/database.ts';
import type { Keyring } from './keyring.ts';

const DAY_MS = 24 * 3600 * 1000;

export interface KeyStatus {
  master: {
    source: 'file' | 'environment';
    activeVersion: number;
    versions: { version: number; createdAt: string; wrapsKeys: number }[];
  };
  signingKeys: { id: string; createdAt: string; ageDays: number; masterVersion: number; retired: boolean }[];
  tenants: {
    tenantId: string;
    name: string;
    rotationPending: boolean;
    keys: {
      purpose: string;
      version: number;
      ageDays: number;
      masterVersion: number;
      retired: boolean;
      usedBy: string;
    }[];
  }[];
}

/** Key operations for the CLI and the background job: status, data-key rotation, re-encryption. */
export function createKeyManagement({
  storage,
  keyring,
  clock,
}: {
  storage: Storage;
  keyring: Keyring;
  clock: Clock;
}) {
  const ageDays = (createdAt: number) => Math.floor((clock.now() - createdAt) / DAY_MS);

  return {
    async status(): Promise<KeyStatus> {
      const [tenants, signing] = await storage.withSystem(async (tx) => [
        await tx
          .selectFrom('tenants')
          .select(['id', 'name', 'key_rotation_pending'])
          .orderBy('created_at')
          .execute(),
        await tx.selectFrom('signing_keys').selectAll().orderBy('created_at').execute(),
      ]);
      const wrapsByMaster = new Map<number, number>();
      const count = (version: number) => wrapsByMaster.set(version, (wrapsByMaster.get(version) ?? 0) + 1);
      signing.forEach((key) => count(key.master_version));
      const tenantStatus: KeyStatus['tenants'] = [];
      for (const tenant of tenants) {
        const keys = await storage.withTenant(tenant.id, async (tx) => {
          const rows = await tx
            .selectFrom('tenant_keys')
            .selectAll()
            .where('tenant_id', '=', tenant.id)
            .execute();
          const userKeys = await tx
            .selectFrom('user_keys')
            .select(['data_key_version', (eb) => eb.fn.countAll<number>().as('n')])
            .where('tenant_id', '=', tenant.id)
            .where('wrapped_key', 'is not', null)
            .groupBy('data_key_version')
            .execute();
          return rows.map((row) => {
            count(row.master_version);
            const users = userKeys.find((entry) => entry.data_key_version === row.version)?.n ?? 0;
            return {
              purpose: row.purpose,
              version: row.version,
              ageDays: ageDays(row.created_at),
              masterVersion: row.master_version,
              retired: row.retired_at !== null,
              usedBy: row.purpose === 'data' ? `${users} user keys, tenant-sealed fields` : 'blind indexes',
            };
          });
        });
        tenantStatus.push({
          tenantId: tenant.id,
          name: tenant.name,
          rotationPending: tenant.key_rotation_pending === 1,
          keys,
        });
      }
      const master = keyring.masterKeys;
      return {
        master: {
          source: master.source,
          activeVersion: master.active.version,
          versions: master.versions.map((entry) => ({
            version: entry.version,
            createdAt: entry.createdAt,
            wrapsKeys: wrapsByMaster.get(entry.version) ?? 0,
          })),
        },
        signingKeys: signing.map((key) => ({
          id: key.id,
          createdAt: new Date(key.created_at).toISOString(),
          ageDays: ageDays(key.created_at),
          masterVersion: key.master_version,
          retired: key.retired_at !== null,
        })),
        tenants: tenantStatus,
      };
    },

    /** New writes use the new version at once; `reencryptPending` moves the existing user keys over. */
    async rotateDataKey(tenantId: string): Promise<number> {
      return storage.withSystem(async (system) => {
        await system
          .updateTable('tenants')
          .set({ key_rotation_pending: 1 })
          .where('id', '=', tenantId)
          .execute();
        const tx = await storage.enterTenant(system, tenantId);
        return keyring.rotateTenantDataKey(tx, tenantId);
      });
    },

    /**
     * One pass of the background re-encryption: for every tenant with a pending rotation, re-wrap user keys
     * in batches (one transaction each, so writers are never blocked for long), then retire the old data
     * key versions for new writes (they stay readable for tenant-sealed fields such as audit entries).
     */
    async reencryptPending(batchSize = 500): Promise<{ tenants: number; moved: number }> {
      const pending = await storage.withSystem((tx) =>
        tx.selectFrom('tenants').select('id').where('key_rotation_pending', '=', 1).execute(),
      );
      let moved = 0;
      for (const { id } of pending) {
        for (
          let batch = await keyring.reencryptBatch(id, batchSize);
          batch > 0;
          batch = await keyring.reencryptBatch(id, batchSize)
        ) {
          moved += batch;
        }
        await storage.withSystem(async (system) => {
          const tx = await storage.enterTenant(system, id);
          const active = await keyring.tenantKey(tx, id, 'data');
          await tx
            .updateTable('tenant_keys')
            .set({ retired_at: clock.now() })
            .where('tenant_id', '=', id)
            .where('purpose', '=', 'data')
            .where('version', '<', active.version)
            .where('retired_at', 'is', null)
            .execute();
        });
        await storage.withSystem((tx) =>
          tx.updateTable('tenants').set({ key_rotation_pending: 0 }).where('id', '=', id).execute(),
        );
      }
      return { tenants: pending.length, moved };
    },
  };
}

export type KeyManagement = ReturnType<typeof createKeyManagement>;
