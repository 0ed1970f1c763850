import type { AttachmentSummary } from '@parley/protocol';
import type { TenantTx } from '../storage/database.ts';

/**
 * The attachments port as the message service sees it. `share` runs inside the transaction that stores the
 * message: it checks the sender may share each attachment (uploaded by them, or visible to them) and records
 * that the attachment now belongs to this message in this dialog (which is what lets the dialog's members
 * download it). It throws an AppError (`not_found`) for an attachment the sender may not share.
 */
export interface MessageAttachments {
  share(
    tx: TenantTx,
    share: {
      tenantId: string;
      senderId: string;
      dialogId: string;
      messageId: string;
      attachmentIds: readonly string[];
    },
  ): Promise<AttachmentSummary[]>;
  /**
   * The message was deleted for everyone (inside that transaction): each attachment it shared that no other
   * message still shares (one not deleted for everyone) is erased for good, for its uploader too.
   */
  release(tx: TenantTx, tenantId: string, messageId: string): Promise<void>;
  /**
   * The dialog was deleted for everyone (inside that transaction, after it was marked deleted): each
   * attachment shared in it that no message of another live dialog still shares is erased for good.
   */
  releaseDialog(tx: TenantTx, tenantId: string, dialogId: string): Promise<void>;
  /**
   * The attachments of each message, in the order they were shared (a removed one as `{ id, removed: true }`);
   * messages without any are absent.
   */
  summaries(
    tx: TenantTx,
    tenantId: string,
    messageIds: readonly string[],
  ): Promise<Map<string, AttachmentSummary[]>>;
}
