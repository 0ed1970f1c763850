import type { MessageBody, SendMessageBody } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import { newId } from '../ids.ts';
import type { Storage } from '../storage/database.ts';
import type { DialogService } from './dialog-service.ts';
import { dialogStore } from './dialog-store.ts';
import type { MessageFanout } from './message-fanout.ts';
import { messageLocation, presentMessage } from './message-presenter.ts';

export interface HistoryPage {
  messages: MessageBody[];
  /** Pass as `before` (older) or `after` (newer) to continue. */
  oldestSeq: number | null;
  newestSeq: number | null;
}

/**
 * Sending and reading messages. A send is idempotent by client id, and takes the dialog's next sequence
 * number under the dialog row lock in the transaction that stores it: the order everyone sees is commit
 * order, without gaps. The caller acknowledges only after this resolves (after commit).
 */
export function createMessageService(deps: {
  fanout: MessageFanout;
  storage: Storage;
  fieldCipher: FieldCipher;
  dialogs: DialogService;
  clock: Clock;
}) {
  const { storage, fieldCipher, dialogs, clock, fanout } = deps;

  return {
    async send(
      tenantId: string,
      senderId: string,
      dialogId: string,
      input: SendMessageBody,
    ): Promise<{ message: MessageBody; duplicate: boolean }> {
      const sent = await storage.withTenant(tenantId, async (tx) => {
        const dialog = await dialogStore.lockDialog(tx, tenantId, dialogId, storage.dialect);
        if (!dialog) throw new AppError('not_found');
        const member = await dialogStore.member(tx, tenantId, dialogId, senderId);
        if (!member || member.left_at !== null) throw new AppError('not_found');
        const previous = await dialogStore.messageByClientId(tx, tenantId, senderId, input.clientId);
        if (previous) {
          if (previous.dialog_id !== dialogId)
            throw new AppError('conflict', 'This client id was used for another dialog.');
          return {
            message: await presentMessage(tx, fieldCipher, previous),
            duplicate: true,
            memberIds: await dialogStore.activeMemberIds(tx, tenantId, dialogId),
          };
        }
        if (dialog.type === 'broadcast' && member.role === 'member') {
          throw new AppError('forbidden', 'Only the owner and admins post in a broadcast dialog.');
        }
        const now = clock.now();
        const seq = dialog.last_seq + 1;
        const id = newId();
        const row = {
          id,
          tenant_id: tenantId,
          dialog_id: dialogId,
          seq,
          sender_id: senderId,
          client_id: input.clientId,
          body: await fieldCipher.sealForTenant(
            tx,
            messageLocation({ tenant_id: tenantId, id }, 'body'),
            input.body,
          ),
          reply_to: input.replyTo ?? null,
          mentions: JSON.stringify(input.mentions),
          properties:
            input.properties === undefined
              ? null
              : await fieldCipher.sealForTenant(
                  tx,
                  messageLocation({ tenant_id: tenantId, id }, 'properties'),
                  JSON.stringify(input.properties),
                ),
          created_at: now,
          edited_at: null,
          deleted_at: null,
        };
        await dialogStore.insertMessage(tx, row);
        await dialogStore.updateDialog(tx, tenantId, dialogId, { last_seq: seq, last_activity_at: now });
        // The sender has read their own message.
        await dialogStore.updateMember(tx, tenantId, dialogId, senderId, { read_seq: seq });
        return {
          message: await presentMessage(tx, fieldCipher, row),
          duplicate: false,
          memberIds: await dialogStore.activeMemberIds(tx, tenantId, dialogId),
        };
      });
      // After commit, never before: a hint must never announce a message that could still roll back. A
      // retried send announces again, in case the first announcement was lost with its process.
      await fanout.published(tenantId, sent.memberIds, { dialogId, seq: sent.message.seq });
      return { message: sent.message, duplicate: sent.duplicate };
    },

    /** History the caller may see (after their "delete for me", and after joining when history is hidden). */
    async history(
      tenantId: string,
      userId: string,
      dialogId: string,
      page: { before?: number | undefined; after?: number | undefined; limit: number },
    ): Promise<HistoryPage> {
      return storage.withTenant(tenantId, async (tx) => {
        const { dialog, member } = await dialogs.membership(tx, tenantId, dialogId, userId);
        const floor = member
          ? Math.max(member.cleared_seq, dialog.hide_history === 1 ? member.joined_seq : 0)
          : 0;
        if (!member && dialog.hide_history === 1) throw new AppError('not_found');
        const order = page.after !== undefined && page.before === undefined ? 'asc' : 'desc';
        const rows = await dialogStore.messages(tx, tenantId, dialogId, { floor, ...page, order });
        const ordered = order === 'desc' ? rows.reverse() : rows;
        const messages = [];
        for (const row of ordered) messages.push(await presentMessage(tx, fieldCipher, row));
        return { messages, oldestSeq: ordered[0]?.seq ?? null, newestSeq: ordered.at(-1)?.seq ?? null };
      });
    },

    /** Read receipt: everything up to `seq` is read (never moves backwards). */
    async markRead(tenantId: string, userId: string, dialogId: string, seq: number): Promise<void> {
      await storage.withTenant(tenantId, async (tx) => {
        const { dialog, member } = await dialogs.membership(tx, tenantId, dialogId, userId);
        if (!member) throw new AppError('not_found');
        const upTo = Math.min(seq, dialog.last_seq);
        if (upTo > member.read_seq)
          await dialogStore.updateMember(tx, tenantId, dialogId, userId, { read_seq: upTo });
      });
    },
  };
}

export type MessageService = ReturnType<typeof createMessageService>;
