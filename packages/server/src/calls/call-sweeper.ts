import type { Clock } from '../clock.ts';
import type { Storage } from '../storage/database.ts';
import type { CallService } from './call-service.ts';

const PER_TENANT_PASS = 200;

/**
 * Ends calls still ringing past the ring timeout. The timeout runs in memory on the node that started the
 * call; when that node restarts or dies, this sweep (on every node) ends the call as missed instead, so
 * records never stay `ringing`.
 */
export function createCallSweeper(deps: {
  storage: Storage;
  clock: Clock;
  calls: CallService;
  ringTimeoutMs: number;
}) {
  const { storage, clock, calls, ringTimeoutMs } = deps;
  return {
    async sweepStaleRinging(): Promise<number> {
      const tenants = await storage.withSystem((tx) => tx.selectFrom('tenants').select('id').execute());
      let ended = 0;
      for (const { id: tenantId } of tenants) {
        const stale = await storage.withTenant(tenantId, (tx) =>
          tx
            .selectFrom('calls')
            .select('id')
            .where('tenant_id', '=', tenantId)
            .where('state', '=', 'ringing')
            .where('created_at', '<', clock.now() - ringTimeoutMs)
            .limit(PER_TENANT_PASS)
            .execute(),
        );
        for (const { id } of stale) {
          // Another node may end it first: then there is nothing left to do.
          await calls.ringTimeout(tenantId, id).then(
            () => (ended += 1),
            () => undefined,
          );
        }
      }
      return ended;
    },
  };
}
