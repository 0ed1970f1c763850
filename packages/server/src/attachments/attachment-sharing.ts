import type { AttachmentSummary } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import type { MessageAttachments } from '../messaging/message-attachments.ts';
import type { TenantTx } from '../storage/database.ts';
import type { DialectName } from '../storage/dialects/dialect-adapter.ts';
import type { AttachmentStatus } from '../storage/tables.ts';
import { attachmentStore } from './attachment-store.ts';
import { attachmentLocation } from './attachment-service.ts';

/**
 * The message service's attachments port. Sharing records which message (so which dialog) an attachment
 * belongs to, inside the transaction that stores the message: the dialog's members can download it from the
 * moment the message commits, and never if it rolls back. Deleting the message for everyone releases its
 * attachments, erasing those no other live message shares.
 */
export function createAttachmentSharing(deps: {
  fieldCipher: FieldCipher;
  dialect: DialectName;
}): MessageAttachments {
  const { fieldCipher, dialect } = deps;

  const summary = async (
    tx: TenantTx,
    tenantId: string,
    row: { id: string; status: AttachmentStatus; name: string; content_type: string; size: number },
  ): Promise<AttachmentSummary> =>
    row.status === 'removed'
      ? { id: row.id, removed: true }
      : {
          id: row.id,
          removed: false,
          name: await fieldCipher.open(tx, attachmentLocation(tenantId, row.id, 'name'), row.name),
          contentType: row.content_type,
          size: row.size,
        };

  /** Erases each of these attachments that no live message (other than `exceptMessageId`) shares any more. */
  const releaseUnshared = async (
    tx: TenantTx,
    tenantId: string,
    attachmentIds: readonly string[],
    exceptMessageId?: string,
  ) => {
    for (const id of attachmentIds) {
      // Locked first: two messages sharing it, deleted at once, must not each count the other as live.
      if (!(await attachmentStore.lock(tx, tenantId, id, dialect))) continue;
      if (!(await attachmentStore.sharedByLiveMessage(tx, tenantId, id, exceptMessageId)))
        await attachmentStore.remove(tx, tenantId, id);
    }
  };

  return {
    async share(tx, { tenantId, senderId, dialogId, messageId, attachmentIds }) {
      const ids = [...new Set(attachmentIds)];
      const found = new Map(
        (await attachmentStore.findComplete(tx, tenantId, ids, dialect)).map((row) => [row.id, row]),
      );
      const summaries: AttachmentSummary[] = [];
      for (const [position, id] of ids.entries()) {
        const row = found.get(id);
        // Uploaded by the sender, or forwarded from a message the sender can see; anything else (unfinished,
        // another user's, another tenant's) looks like it does not exist.
        const mayShare =
          row !== undefined &&
          (row.uploader_id === senderId || (await attachmentStore.visibleTo(tx, tenantId, id, senderId)));
        if (!row || !mayShare) throw new AppError('not_found', 'An attachment does not exist.');
        await attachmentStore.insertShares(tx, [
          { tenant_id: tenantId, attachment_id: id, message_id: messageId, dialog_id: dialogId, position },
        ]);
        summaries.push(await summary(tx, tenantId, row));
      }
      return summaries;
    },

    async release(tx, tenantId, messageId) {
      await releaseUnshared(tx, tenantId, await attachmentStore.sharedIn(tx, tenantId, messageId), messageId);
    },

    async releaseDialog(tx, tenantId, dialogId) {
      await releaseUnshared(tx, tenantId, await attachmentStore.sharedInDialog(tx, tenantId, dialogId));
    },

    async summaries(tx, tenantId, messageIds) {
      const byMessage = new Map<string, AttachmentSummary[]>();
      for (const row of await attachmentStore.sharesOf(tx, tenantId, messageIds)) {
        const list = byMessage.get(row.message_id) ?? [];
        list.push(await summary(tx, tenantId, row));
        byMessage.set(row.message_id, list);
      }
      return byMessage;
    },
  };
}
