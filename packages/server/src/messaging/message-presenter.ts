import type { AttachmentSummary, MessageBody, ReactionSummary } from '@parley/protocol';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import type { TenantTx } from '../storage/database.ts';
import type { MessageRow } from './dialog-store.ts';
import type { MessageAttachments } from './message-attachments.ts';
import { messageEventStore } from './message-event-store.ts';

/** Where a message's sealed fields are bound: its own row. */
export const messageLocation = (
  row: Pick<MessageRow, 'tenant_id' | 'id'>,
  column: 'body' | 'properties',
) => ({
  tenantId: row.tenant_id,
  table: 'messages',
  column,
  rowId: row.id,
});

export interface MessageExtras {
  attachments?: AttachmentSummary[] | undefined;
  reactions?: ReactionSummary[] | undefined;
}

/** A message as clients see it: an explicit field list, sealed fields opened, deleted bodies gone. */
export async function presentMessage(
  tx: TenantTx,
  fieldCipher: FieldCipher,
  row: MessageRow,
  extras: MessageExtras = {},
): Promise<MessageBody> {
  const deleted = row.deleted_at !== null;
  const body =
    deleted || row.body === null ? null : await fieldCipher.open(tx, messageLocation(row, 'body'), row.body);
  const properties =
    deleted || row.properties === null
      ? null
      : await fieldCipher.open(tx, messageLocation(row, 'properties'), row.properties);
  return presentOpened(row, { body, properties }, extras);
}

/**
 * A message from its row and its sealed fields already in the clear: a send presents what its sender wrote
 * instead of opening what it has just sealed.
 */
export function presentOpened(
  row: MessageRow,
  opened: { body: string | null; properties: string | null },
  extras: MessageExtras = {},
): MessageBody {
  const deleted = row.deleted_at !== null;
  return {
    id: row.id,
    dialogId: row.dialog_id,
    seq: row.seq,
    senderId: row.sender_id,
    clientId: row.client_id,
    body: deleted ? null : opened.body,
    replyTo: row.reply_to,
    mentions: JSON.parse(row.mentions) as string[],
    properties:
      deleted || opened.properties === null
        ? null
        : (JSON.parse(opened.properties) as Record<string, unknown>),
    attachments: deleted ? [] : (extras.attachments ?? []),
    reactions: deleted ? [] : (extras.reactions ?? []),
    createdAt: new Date(row.created_at).toISOString(),
    editedAt: row.edited_at === null ? null : new Date(row.edited_at).toISOString(),
    deleted,
  };
}

/** Presents several messages with their attachments and reactions, loaded in two queries. */
export async function presentMessages(
  tx: TenantTx,
  deps: { fieldCipher: FieldCipher; attachments: MessageAttachments },
  tenantId: string,
  rows: readonly MessageRow[],
): Promise<MessageBody[]> {
  const ids = rows.map((row) => row.id);
  const attachments = await deps.attachments.summaries(tx, tenantId, ids);
  const reactions = await messageEventStore.reactionsOf(tx, tenantId, ids);
  const messages: MessageBody[] = [];
  for (const row of rows) {
    messages.push(
      await presentMessage(tx, deps.fieldCipher, row, {
        attachments: attachments.get(row.id),
        reactions: reactions.get(row.id),
      }),
    );
  }
  return messages;
}
