/**
 * Limits on dialogs, messages and attachments, set per tenant (`PATCH /v1/tenant/settings`). Messaging reads
 * them inside its own transactions through a function the composition root passes in, so it never imports
 * the tenancy store.
 */
export interface MessagingLimits {
  maxGroupMembers: number;
  /** UTF-8 bytes of a message body. */
  maxMessageBytes: number;
  maxAttachmentBytes: number;
  /** 0: messages may be edited at any time. */
  editWindowSeconds: number;
  /** Who may call a user: people sharing a dialog with them, or anyone in the tenant (blocks apply either way). */
  callPolicy: 'shared_dialog' | 'tenant';
}

export const defaultMessagingLimits: MessagingLimits = {
  maxGroupMembers: 1000,
  maxMessageBytes: 16_384,
  maxAttachmentBytes: 25 * 1024 * 1024,
  editWindowSeconds: 0,
  callPolicy: 'shared_dialog',
};
