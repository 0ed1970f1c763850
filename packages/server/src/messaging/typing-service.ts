import { AppError } from '../app-error.ts';
import type { Storage } from '../storage/database.ts';
import type { DialogService } from './dialog-service.ts';
import { dialogStore } from './dialog-store.ts';
import type { MessageFanout } from './message-fanout.ts';
import { refuseIfBlocked } from './message-service.ts';

/** Typing indicators: ephemeral, never stored, sent to the dialog's other members' devices. */
export function createTypingService(deps: {
  storage: Storage;
  dialogs: DialogService;
  fanout: MessageFanout;
}) {
  const { storage, dialogs, fanout } = deps;
  return {
    async signal(tenantId: string, userId: string, dialogId: string, state: 'started' | 'stopped') {
      const memberIds = await storage.withTenant(tenantId, async (tx) => {
        const { dialog, member } = await dialogs.membership(tx, tenantId, dialogId, userId);
        if (!member) throw new AppError('not_found');
        if (dialog.type === 'broadcast' && member.role === 'member') return [];
        await refuseIfBlocked(tx, dialog, userId);
        return dialogStore.activeMemberIds(tx, tenantId, dialogId);
      });
      await fanout.published(
        tenantId,
        memberIds.filter((id) => id !== userId),
        { kind: 'typing', dialogId, userId, state },
      );
    },
  };
}

export type TypingService = ReturnType<typeof createTypingService>;
