import type { ErasureMessagePolicy } from '@parley/protocol';
import type { Clock } from '../clock.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import { dialogStore } from './dialog-store.ts';
import type { MessageAttachments } from './message-attachments.ts';
import { messageEventStore } from './message-event-store.ts';
import type { MessageFanout } from './message-fanout.ts';
import type { MessageIndex } from './message-index.ts';

/** What one batch did, and the sequence hints to publish once its transaction committed. */
export interface MessageErasureBatch {
  /** The last message id looked at (the keyset position to go on after); null when there was none. */
  last: string | null;
  erased: number;
  kept: number;
  searchEntries: number;
  hints: { dialogId: string; from: number; seq: number; memberIds: string[] }[];
}

/**
 * The messaging side of erasing a user (GDPR Art. 17, compliance/gdpr/erasure-service.ts). Works through the
 * messages the user sent, in id order, a batch per transaction. Every message leaves the search index (its
 * blind tokens) whatever the policy; under `erase` its text and properties are removed for everyone, its
 * reactions cleared and the files it shared released — as a deletion for everyone does, with a sequenced
 * `deleted` event per message so every member's client drops the text too, live or at its next resume.
 * Under `keep_as_deleted_user` the text stays for the other members (the account behind it is erased).
 * Running a batch again finds nothing left to do: it is safe to repeat after a crash.
 */
export function createMessageErasure(deps: {
  storage: Storage;
  clock: Clock;
  fanout: MessageFanout;
  index: MessageIndex;
  attachments: MessageAttachments;
}) {
  const { storage, clock, fanout, index, attachments } = deps;

  return {
    /**
     * The next batch of the sender's messages after `after` (`onlyLive`: only those still not deleted, for
     * the final sweep that catches a send which committed while the erasure ran).
     */
    async eraseBatch(
      tx: TenantTx,
      input: {
        tenantId: string;
        senderId: string;
        policy: ErasureMessagePolicy;
        after: string | null;
        limit: number;
        onlyLive?: boolean;
      },
    ): Promise<MessageErasureBatch> {
      const { tenantId, senderId, policy } = input;
      const rows = await tx
        .selectFrom('messages')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('sender_id', '=', senderId)
        .$if(input.after !== null, (query) => query.where('id', '>', input.after ?? ''))
        .$if(input.onlyLive === true, (query) => query.where('deleted_at', 'is', null))
        .orderBy('id')
        .limit(input.limit)
        .execute();
      const batch: MessageErasureBatch = {
        last: rows.at(-1)?.id ?? null,
        erased: 0,
        kept: 0,
        searchEntries: 0,
        hints: [],
      };
      if (rows.length === 0) return batch;
      const searched = await tx
        .selectFrom('message_search')
        .select('message_id')
        .where('tenant_id', '=', tenantId)
        .where(
          'message_id',
          'in',
          rows.map((row) => row.id),
        )
        .execute();
      batch.searchEntries = searched.length;
      for (const { message_id } of searched) await index.removeMessage(tx, tenantId, message_id);
      if (policy === 'keep_as_deleted_user') {
        batch.kept = rows.length;
        return batch;
      }
      // Dialogs locked in id order, as every writer takes one dialog lock at a time: no deadlock with sends.
      const byDialog = new Map<string, typeof rows>();
      for (const row of rows) {
        if (row.deleted_at !== null) continue;
        byDialog.set(row.dialog_id, [...(byDialog.get(row.dialog_id) ?? []), row]);
      }
      for (const dialogId of [...byDialog.keys()].sort()) {
        const dialog = await dialogStore.lockDialog(tx, tenantId, dialogId, storage.dialect);
        if (!dialog) continue;
        const from = dialog.last_seq + 1;
        let seq = dialog.last_seq;
        for (const message of byDialog.get(dialogId) ?? []) {
          await dialogStore.updateMessage(tx, message, {
            body: null,
            properties: null,
            deleted_at: clock.now(),
          });
          await messageEventStore.clearReactions(tx, tenantId, message.id);
          await attachments.release(tx, tenantId, message.id);
          seq += 1;
          await messageEventStore.insertEvent(tx, {
            tenant_id: tenantId,
            dialog_id: dialogId,
            seq,
            kind: 'deleted',
            message_id: message.id,
            actor_id: senderId,
            created_at: clock.now(),
          });
          batch.erased += 1;
        }
        await dialogStore.updateDialog(tx, tenantId, dialogId, { last_seq: seq });
        batch.hints.push({
          dialogId,
          from,
          seq,
          memberIds: await dialogStore.activeMemberIds(tx, tenantId, dialogId),
        });
      }
      return batch;
    },

    /** Tells every member's node about the deletions of a committed batch. */
    async announce(tenantId: string, batch: MessageErasureBatch): Promise<void> {
      for (const hint of batch.hints)
        await fanout.published(tenantId, hint.memberIds, {
          kind: 'seq',
          dialogId: hint.dialogId,
          seq: hint.seq,
          ...(hint.from < hint.seq ? { from: hint.from } : {}),
        });
    },
  };
}

export type MessageErasure = ReturnType<typeof createMessageErasure>;
