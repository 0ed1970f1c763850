import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { Storage } from '../storage/database.ts';
import { blockStore } from './block-store.ts';
import type { DialogService } from './dialog-service.ts';

/**
 * Block lists. A block (by either side) stops private messages, typing and presence between the two;
 * groups they share are unaffected, as in every mainstream messenger.
 */
export function createBlockService(deps: { storage: Storage; dialogs: DialogService; clock: Clock }) {
  const { storage, dialogs, clock } = deps;
  return {
    async list(tenantId: string, userId: string) {
      return storage.withTenant(tenantId, async (tx) => {
        const rows = await blockStore.blockedBy(tx, tenantId, userId);
        return rows.map((row) => ({
          userId: row.blocked_id,
          blockedAt: new Date(row.created_at).toISOString(),
        }));
      });
    },

    async block(tenantId: string, userId: string, blockedId: string): Promise<void> {
      if (blockedId === userId) throw new AppError('validation_failed', 'You cannot block yourself.');
      await storage.withTenant(tenantId, async (tx) => {
        await dialogs.checkUsers(tx, tenantId, [blockedId]);
        await blockStore.block(tx, tenantId, userId, blockedId, clock.now());
      });
    },

    async unblock(tenantId: string, userId: string, blockedId: string): Promise<void> {
      await storage.withTenant(tenantId, async (tx) => {
        await blockStore.unblock(tx, tenantId, userId, blockedId);
      });
    },

    /** True when either blocked the other (typing in private dialogs is dropped then). */
    async between(tenantId: string, a: string, b: string): Promise<boolean> {
      return storage.withTenant(tenantId, (tx) => blockStore.eitherBlocked(tx, tenantId, a, b));
    },
  };
}

export type BlockService = ReturnType<typeof createBlockService>;
