import type { MessageBody } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import type { DialogEventKind } from '../storage/tables.ts';
import { type DialogRow, dialogStore, type MemberRow } from './dialog-store.ts';
import type { MessageAttachments } from './message-attachments.ts';
import { messageEventStore } from './message-event-store.ts';
import type { MessageFanout } from './message-fanout.ts';
import type { MessageIndex } from './message-index.ts';
import { messageLocation, presentMessages } from './message-presenter.ts';
import { refuseIfBlocked, visibleFloor } from './message-service.ts';
import type { MessagingLimits } from './messaging-limits.ts';
import type { SendRateLimiter } from './send-rate-limit.ts';

/** Most different reactions one message may carry (each may be used by every member). */
export const MAX_REACTION_KINDS = 20;

export interface ChangeResult {
  /** The sequence number the change took; null when nothing changed (a repeated request). */
  seq: number | null;
  message: MessageBody;
}

/**
 * Changes to sent messages: edits, deletion (for everyone, or hidden for me) and reactions. Every change
 * visible to others takes the dialog's next sequence number under the dialog lock and is recorded as an
 * event in the same transaction, so every client sees it once, in commit order, also after a resume.
 */
export function createMessageChangeService(deps: {
  sendRate: SendRateLimiter;
  storage: Storage;
  fieldCipher: FieldCipher;
  clock: Clock;
  fanout: MessageFanout;
  index: MessageIndex;
  attachments: MessageAttachments;
  limits: (tx: TenantTx, tenantId: string) => Promise<MessagingLimits>;
}) {
  const { storage, fieldCipher, clock, fanout, index, limits } = deps;

  /** The dialog locked, the caller's active membership, and a message of this dialog they can see. */
  async function target(tx: TenantTx, tenantId: string, userId: string, dialogId: string, messageId: string) {
    const dialog = await dialogStore.lockDialog(tx, tenantId, dialogId, storage.dialect);
    const member = dialog && (await dialogStore.member(tx, tenantId, dialogId, userId));
    if (!dialog || !member || member.left_at !== null) throw new AppError('not_found');
    const message = await dialogStore.messageById(tx, tenantId, messageId);
    if (message?.dialog_id !== dialogId || message.seq <= visibleFloor(dialog, member))
      throw new AppError('not_found', 'No such message in this dialog.');
    return { dialog, member, message };
  }

  /** Takes the next sequence number for a change and records it. */
  async function sequence(
    tx: TenantTx,
    dialog: DialogRow,
    kind: DialogEventKind,
    messageId: string,
    actorId: string,
  ): Promise<number> {
    const seq = dialog.last_seq + 1;
    await messageEventStore.insertEvent(tx, {
      tenant_id: dialog.tenant_id,
      dialog_id: dialog.id,
      seq,
      kind,
      message_id: messageId,
      actor_id: actorId,
      created_at: clock.now(),
    });
    await dialogStore.updateDialog(tx, dialog.tenant_id, dialog.id, { last_seq: seq });
    return seq;
  }

  async function present(tx: TenantTx, tenantId: string, messageId: string): Promise<MessageBody> {
    const row = await dialogStore.messageById(tx, tenantId, messageId);
    if (!row) throw new AppError('not_found');
    const [message] = await presentMessages(tx, deps, tenantId, [row]);
    if (!message) throw new AppError('not_found');
    return message;
  }

  /** Runs a change in a tenant transaction; after commit, tells every member's node about its seq. */
  async function change(
    tenantId: string,
    dialogId: string,
    work: (tx: TenantTx) => Promise<ChangeResult>,
  ): Promise<ChangeResult> {
    const { result, memberIds } = await storage.withTenant(tenantId, async (tx) => ({
      result: await work(tx),
      memberIds: await dialogStore.activeMemberIds(tx, tenantId, dialogId),
    }));
    if (result.seq !== null)
      await fanout.published(tenantId, memberIds, { kind: 'seq', dialogId, seq: result.seq });
    return result;
  }

  function mayModerate(member: MemberRow, dialog: DialogRow): boolean {
    return dialog.type !== 'private' && member.role !== 'member';
  }

  return {
    /** The sender edits the text; the message is flagged with the time of the edit. */
    async edit(
      tenantId: string,
      userId: string,
      dialogId: string,
      messageId: string,
      body: string,
    ): Promise<ChangeResult> {
      deps.sendRate.take(tenantId, userId, Buffer.byteLength(body));
      return change(tenantId, dialogId, async (tx) => {
        const { dialog, message } = await target(tx, tenantId, userId, dialogId, messageId);
        if (message.sender_id !== userId) throw new AppError('forbidden', 'Only the sender edits a message.');
        if (message.deleted_at !== null) throw new AppError('not_found', 'The message was deleted.');
        const { maxMessageBytes, editWindowSeconds } = await limits(tx, tenantId);
        if (editWindowSeconds > 0 && clock.now() - message.created_at > editWindowSeconds * 1000)
          throw new AppError('edit_window_closed');
        if (Buffer.byteLength(body, 'utf8') > maxMessageBytes)
          throw new AppError('message_too_large', `A message may have at most ${maxMessageBytes} bytes.`);
        await refuseIfBlocked(tx, dialog, userId);
        const now = clock.now();
        await dialogStore.updateMessage(tx, message, {
          body: await fieldCipher.sealForTenant(tx, messageLocation(message, 'body'), body),
          edited_at: now,
        });
        await index.reindexMessage(tx, {
          tenantId,
          messageId,
          dialogId,
          seq: message.seq,
          senderId: message.sender_id,
          createdAt: message.created_at,
          text: body,
        });
        const seq = await sequence(tx, dialog, 'edited', messageId, userId);
        return { seq, message: await present(tx, tenantId, messageId) };
      });
    },

    /**
     * For everyone: the sender, or an owner/admin of a group, removes the text, properties, attachments and
     * reactions for all members (the row stays as a tombstone so sequence numbers never disappear). For me:
     * hidden from the caller's history only.
     */
    async remove(
      tenantId: string,
      userId: string,
      dialogId: string,
      messageId: string,
      forEveryone: boolean,
    ): Promise<ChangeResult> {
      return change(tenantId, dialogId, async (tx) => {
        const { dialog, member, message } = await target(tx, tenantId, userId, dialogId, messageId);
        if (!forEveryone) {
          await messageEventStore.hide(tx, tenantId, messageId, userId);
          return { seq: null, message: await present(tx, tenantId, messageId) };
        }
        if (message.sender_id !== userId && !mayModerate(member, dialog))
          throw new AppError('forbidden', 'Only the sender or the dialog’s admins delete for everyone.');
        if (message.deleted_at !== null)
          return { seq: null, message: await present(tx, tenantId, messageId) };
        await dialogStore.updateMessage(tx, message, {
          body: null,
          properties: null,
          deleted_at: clock.now(),
        });
        await messageEventStore.clearReactions(tx, tenantId, messageId);
        await deps.attachments.release(tx, tenantId, messageId);
        await index.removeMessage(tx, tenantId, messageId);
        const seq = await sequence(tx, dialog, 'deleted', messageId, userId);
        return { seq, message: await present(tx, tenantId, messageId) };
      });
    },

    /** Adds or removes the caller's reaction; repeating it changes nothing and takes no sequence number. */
    async react(
      tenantId: string,
      userId: string,
      dialogId: string,
      messageId: string,
      emoji: string,
      op: 'add' | 'remove',
    ): Promise<ChangeResult> {
      return change(tenantId, dialogId, async (tx) => {
        const { dialog, message } = await target(tx, tenantId, userId, dialogId, messageId);
        if (message.deleted_at !== null) throw new AppError('not_found', 'The message was deleted.');
        let changed: boolean;
        if (op === 'add') {
          const kinds = await messageEventStore.reactionsOf(tx, tenantId, [messageId]);
          const existing = kinds.get(messageId) ?? [];
          if (!existing.some((entry) => entry.emoji === emoji) && existing.length >= MAX_REACTION_KINDS)
            throw new AppError('too_many_reactions');
          changed = await messageEventStore.addReaction(tx, {
            tenant_id: tenantId,
            message_id: messageId,
            user_id: userId,
            emoji,
            created_at: clock.now(),
          });
        } else {
          changed = await messageEventStore.removeReaction(tx, tenantId, messageId, userId, emoji);
        }
        const seq = changed ? await sequence(tx, dialog, 'reactions', messageId, userId) : null;
        return { seq, message: await present(tx, tenantId, messageId) };
      });
    },
  };
}

export type MessageChangeService = ReturnType<typeof createMessageChangeService>;
