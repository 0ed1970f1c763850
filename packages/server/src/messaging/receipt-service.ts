import { AppError } from '../app-error.ts';
import type { Storage } from '../storage/database.ts';
import type { DialogService } from './dialog-service.ts';
import { dialogStore } from './dialog-store.ts';
import type { MessageFanout } from './message-fanout.ts';

/** Receipts are pushed live to the other members of dialogs up to this size; larger ones ask over REST. */
export const RECEIPT_FANOUT_LIMIT = 100;

export interface MemberReceipt {
  userId: string;
  deliveredSeq: number;
  readSeq: number;
}

/**
 * Delivered and read receipts: per member, the highest sequence number that reached one of their devices,
 * and the highest they read. Both only move forward; read implies delivered.
 */
export function createReceiptService(deps: {
  storage: Storage;
  dialogs: DialogService;
  fanout: MessageFanout;
}) {
  const { storage, dialogs, fanout } = deps;

  async function advance(
    tenantId: string,
    userId: string,
    dialogId: string,
    kind: 'delivered' | 'read',
    seq: number,
  ): Promise<void> {
    const outcome = await storage.withTenant(tenantId, async (tx) => {
      const { dialog, member } = await dialogs.membership(tx, tenantId, dialogId, userId);
      if (!member) throw new AppError('not_found');
      const upTo = Math.min(seq, dialog.last_seq);
      const readSeq = kind === 'read' ? Math.max(member.read_seq, upTo) : member.read_seq;
      const deliveredSeq = Math.max(member.delivered_seq, kind === 'delivered' ? upTo : readSeq);
      if (readSeq === member.read_seq && deliveredSeq === member.delivered_seq) return undefined;
      await dialogStore.updateMember(tx, tenantId, dialogId, userId, {
        read_seq: readSeq,
        delivered_seq: deliveredSeq,
      });
      const memberIds = await dialogStore.activeMemberIds(tx, tenantId, dialogId);
      return { readSeq, deliveredSeq, memberIds };
    });
    if (!outcome || outcome.memberIds.length > RECEIPT_FANOUT_LIMIT) return;
    await fanout.published(
      tenantId,
      outcome.memberIds.filter((id) => id !== userId),
      {
        kind: 'receipt',
        dialogId,
        userId,
        deliveredSeq: outcome.deliveredSeq,
        readSeq: outcome.readSeq,
      },
    );
  }

  return {
    /** Read receipt: everything up to `seq` is read (never moves backwards). */
    markRead: (tenantId: string, userId: string, dialogId: string, seq: number) =>
      advance(tenantId, userId, dialogId, 'read', seq),

    markDelivered: (tenantId: string, userId: string, dialogId: string, seq: number) =>
      advance(tenantId, userId, dialogId, 'delivered', seq),

    /** Every active member's receipts, for "seen by" lists. */
    async receipts(tenantId: string, userId: string, dialogId: string): Promise<MemberReceipt[]> {
      return storage.withTenant(tenantId, async (tx) => {
        const { member } = await dialogs.membership(tx, tenantId, dialogId, userId);
        if (!member) throw new AppError('not_found');
        const rows = await dialogStore.activeMembers(tx, tenantId, dialogId);
        return rows.map((row) => ({
          userId: row.user_id,
          deliveredSeq: row.delivered_seq,
          readSeq: row.read_seq,
        }));
      });
    },
  };
}

export type ReceiptService = ReturnType<typeof createReceiptService>;
