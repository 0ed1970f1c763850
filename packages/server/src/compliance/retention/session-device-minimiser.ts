import type { Clock } from '../../clock.ts';
import { DecryptionError } from '../../crypto/aead.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import { openDevice, sealDevice } from '../../identity/sessions/session-device.ts';
import type { Storage } from '../../storage/database.ts';
import type { IpReducer } from '../audit/audit-minimiser.ts';

/**
 * Data minimisation of sessions (the sign-in record of each device): the sealed device of each session
 * opened before the cut-off is sealed again with its ip reduced and its user agent dropped, and
 * `device_minimised_at` set, so it is done once. The device list then shows such a session without its user
 * agent. Sealing goes through the identity domain's own helpers, so the ciphertext stays bound to the same
 * cell (tenant, table, column, row).
 */
export function createSessionDeviceMinimiser(deps: {
  storage: Storage;
  fieldCipher: FieldCipher;
  clock: Clock;
  /** Sessions rewritten per transaction (default 200). */
  batchSize?: number;
}) {
  const { storage, fieldCipher, clock } = deps;
  const batchSize = deps.batchSize ?? 200;

  /** One batch; a device that does not open (tampered) is left as it is and named in `unreadable`. */
  async function batch(
    tenantId: string,
    olderThan: number,
    reduceIp: IpReducer,
    unreadable: Set<string>,
  ): Promise<number> {
    return storage.withTenant(tenantId, async (tx) => {
      const rows = await tx
        .selectFrom('sessions')
        .select(['id', 'device'])
        .where('tenant_id', '=', tenantId)
        .where('created_at', '<', olderThan)
        .where('device', 'is not', null)
        .where('device_minimised_at', 'is', null)
        .$if(unreadable.size > 0, (query) => query.where('id', 'not in', [...unreadable]))
        .orderBy('created_at')
        .orderBy('id')
        .limit(batchSize)
        .execute();
      const now = clock.now();
      for (const row of rows) {
        if (row.device === null) continue;
        const device = await openDevice(fieldCipher, tx, tenantId, row.id, row.device).catch(
          (error: unknown) => {
            if (error instanceof DecryptionError) return undefined;
            throw error;
          },
        );
        if (device === undefined) {
          unreadable.add(row.id);
          continue;
        }
        const ip = device.ip === undefined ? null : reduceIp(device.ip);
        const minimised = ip === null ? {} : { ip };
        await tx
          .updateTable('sessions')
          .set({
            device: await sealDevice(fieldCipher, tx, tenantId, row.id, minimised),
            device_minimised_at: now,
          })
          .where('tenant_id', '=', tenantId)
          .where('id', '=', row.id)
          .execute();
      }
      return rows.length;
    });
  }

  return {
    /** Minimises the devices of the tenant's sessions opened before `olderThan` (ms). Answers how many. */
    async minimise(tenantId: string, olderThan: number, reduceIp: IpReducer): Promise<number> {
      let total = 0;
      const unreadable = new Set<string>();
      for (;;) {
        const n = await batch(tenantId, olderThan, reduceIp, unreadable);
        total += n;
        if (n < batchSize) return total - unreadable.size;
      }
    },
  };
}

export type SessionDeviceMinimiser = ReturnType<typeof createSessionDeviceMinimiser>;
