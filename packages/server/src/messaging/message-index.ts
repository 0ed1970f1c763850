import type { TenantTx } from '../storage/database.ts';

/** What the search index needs to know about one message; `text` is the plaintext body. */
export interface IndexedMessage {
  tenantId: string;
  messageId: string;
  dialogId: string;
  seq: number;
  senderId: string;
  createdAt: number;
  text: string;
}

/**
 * The full-text index port. The message service calls it inside the transaction that stores, edits or deletes a
 * message, so search shows a change exactly when it commits.
 */
export interface MessageIndex {
  /**
   * Indexes messages that have no entry yet (new ones, or ones the re-index found without one), in a few
   * statements whatever their number: one insert per index table. A message that already has an entry keeps
   * it unchanged (edits come to `reindexMessage`); one without an entry must have no index rows at all
   * (`removeMessage` removes every one).
   */
  indexMessages(tx: TenantTx, messages: readonly IndexedMessage[]): Promise<void>;
  /** Replaces the text of an edited message. */
  reindexMessage(tx: TenantTx, message: IndexedMessage): Promise<void>;
  removeMessage(tx: TenantTx, tenantId: string, messageId: string): Promise<void>;
}
