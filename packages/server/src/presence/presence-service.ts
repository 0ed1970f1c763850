import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { MessageFanout, PresenceHint } from '../messaging/message-fanout.ts';
import { relationships } from '../messaging/relationships.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import type { PresenceVisibility } from '../storage/tables.ts';
import type { PresenceStore } from './presence-store.ts';

export interface PresenceView {
  userId: string;
  status: 'online' | 'offline';
  lastActiveAt: string | null;
}

/** How long a connection counts as online without renewal; connections renew at a third of it. */
export const PRESENCE_TTL_MS = 75_000;

/**
 * Presence and last activity. Each user chooses who may see them: everyone in the tenant, contacts (people
 * sharing a dialog with them) or nobody; a block either way hides presence both ways.
 */
export function createPresenceService(deps: {
  storage: Storage;
  store: PresenceStore;
  fanout: MessageFanout;
  clock: Clock;
}) {
  const { storage, store, fanout, clock } = deps;

  async function visibleTo(tx: TenantTx, tenantId: string, viewerId: string, subjectId: string) {
    if (viewerId === subjectId) return true;
    const subject = await tx
      .selectFrom('users')
      .select(['presence_visibility', 'status'])
      .where('tenant_id', '=', tenantId)
      .where('id', '=', subjectId)
      .executeTakeFirst();
    if (subject?.status !== 'active') return false;
    const visibility = subject.presence_visibility ?? 'contacts';
    if (visibility === 'nobody') return false;
    if (await relationships.eitherBlocked(tx, tenantId, viewerId, subjectId)) return false;
    if (visibility === 'everyone') return true;
    return relationships.shareActiveDialog(tx, tenantId, viewerId, subjectId);
  }

  async function lastActive(tx: TenantTx, tenantId: string, userId: string): Promise<number | null> {
    const row = await tx
      .selectFrom('users')
      .select('last_active_at')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', userId)
      .executeTakeFirst();
    return row?.last_active_at ?? null;
  }

  async function setLastActive(tenantId: string, userId: string): Promise<number> {
    const now = clock.now();
    await storage.withTenant(tenantId, async (tx) => {
      await tx
        .updateTable('users')
        .set({ last_active_at: now })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', userId)
        .execute();
    });
    return now;
  }

  return {
    /** A connection opened (or renewed): announces the user online when it is their first. */
    async connected(tenantId: string, userId: string, connectionId: string): Promise<void> {
      if (await store.connect(tenantId, userId, connectionId, PRESENCE_TTL_MS)) {
        const at = await setLastActive(tenantId, userId);
        await fanout.presenceChanged(tenantId, { userId, status: 'online', lastActiveAt: at });
      }
    },

    renewed: (tenantId: string, userId: string, connectionId: string) =>
      store.connect(tenantId, userId, connectionId, PRESENCE_TTL_MS),

    /** A connection closed: announces the user offline when it was their last. */
    async disconnected(tenantId: string, userId: string, connectionId: string): Promise<void> {
      if (await store.disconnect(tenantId, userId, connectionId)) {
        const at = await setLastActive(tenantId, userId);
        await fanout.presenceChanged(tenantId, { userId, status: 'offline', lastActiveAt: at });
      }
    },

    /** The presence of each of `userIds` the viewer may see; the others are left out. */
    async view(tenantId: string, viewerId: string, userIds: readonly string[]): Promise<PresenceView[]> {
      const visible = await storage.withTenant(tenantId, async (tx) => {
        const result: { userId: string; lastActiveAt: number | null }[] = [];
        for (const userId of userIds) {
          if (await visibleTo(tx, tenantId, viewerId, userId))
            result.push({ userId, lastActiveAt: await lastActive(tx, tenantId, userId) });
        }
        return result;
      });
      const views: PresenceView[] = [];
      for (const entry of visible) {
        views.push({
          userId: entry.userId,
          status: (await store.isOnline(tenantId, entry.userId)) ? 'online' : 'offline',
          lastActiveAt: entry.lastActiveAt === null ? null : new Date(entry.lastActiveAt).toISOString(),
        });
      }
      return views;
    },

    /** Re-checked for every change delivered, so a privacy change or block takes effect at once. */
    maySee: (tenantId: string, viewerId: string, subjectId: string) =>
      storage.withTenant(tenantId, (tx) => visibleTo(tx, tenantId, viewerId, subjectId)),

    async setVisibility(tenantId: string, userId: string, visibility: PresenceVisibility): Promise<void> {
      await storage.withTenant(tenantId, async (tx) => {
        const updated = await tx
          .updateTable('users')
          .set({ presence_visibility: visibility })
          .where('tenant_id', '=', tenantId)
          .where('id', '=', userId)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) throw new AppError('not_found');
      });
    },

    subscribe: (tenantId: string, userId: string, onHint: (hint: PresenceHint) => void) =>
      fanout.subscribePresence(tenantId, userId, onHint),
  };
}

export type PresenceService = ReturnType<typeof createPresenceService>;
