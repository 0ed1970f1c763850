import { sql } from 'kysely';
import { attachmentLocation } from '../../src/attachments/attachment-service.ts';
import type { FieldCipher } from '../../src/crypto/field-cipher.ts';
import { newId } from '../../src/ids.ts';
import type { MessageIndex, IndexedMessage } from '../../src/messaging/message-index.ts';
import { messageLocation } from '../../src/messaging/message-presenter.ts';
import type { Storage, TenantTx } from '../../src/storage/database.ts';
import type { DialogEventsTable, MessagesTable } from '../../src/storage/tables.ts';

/** What grows history in bulk: the storage, the cipher that seals bodies, the search index that indexes them. */
export interface GrowthDeps {
  storage: Storage;
  fieldCipher: FieldCipher;
  index: MessageIndex;
}

/** A dialog to grow: its members (the first ones send, the second reacts and hides). */
export interface GrownDialog {
  id: string;
  memberIds: readonly string[];
}

/** Rows per insert statement (well under SQLite's 32,766 parameters). */
const CHUNK = 250;
const words = ['weather', 'invoice', 'meeting', 'holiday', 'parcel', 'garden', 'ticket', 'coffee'];

/** The body of the grown message at `seq`: a few common words, so search entries look like real ones. */
const bodyAt = (seq: number) =>
  `note ${seq % 97} ${words[seq % words.length] ?? ''} ${words[(seq * 7) % words.length] ?? ''}`;

/**
 * Appends history to a dialog up to `toSeq`, straight into the tables (much faster than sending), shaped like
 * what use leaves behind: per ten sequence numbers eight messages (sealed bodies, search entries), one edit
 * event and one reaction event with its reaction; every 30th message shares an attachment of its own and every 50th is
 * hidden ("delete for me") by the second member. The same `seq` always gets the same kind of row, so two
 * dialogs grown to the same depth look alike wherever a test reads them.
 */
export async function growDialog(
  deps: GrowthDeps,
  tenantId: string,
  dialog: GrownDialog,
  toSeq: number,
  baseTime: number,
): Promise<void> {
  const { storage } = deps;
  const [sender = '', other = sender] = dialog.memberIds;
  const from = await storage.withTenant(tenantId, async (tx) => {
    const row = await tx
      .selectFrom('dialogs')
      .select('last_seq')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', dialog.id)
      .executeTakeFirstOrThrow();
    return row.last_seq + 1;
  });
  if (from > toSeq) return;
  const messageIds = new Map<number, string>();
  for (let start = from; start <= toSeq; start += CHUNK) {
    const end = Math.min(toSeq, start + CHUNK - 1);
    await storage.withTenant(tenantId, async (tx) => {
      const messages: MessagesTable[] = [];
      const events: DialogEventsTable[] = [];
      const indexed: IndexedMessage[] = [];
      const reactions = [];
      for (let seq = start; seq <= end; seq++) {
        const at = baseTime + seq * 1000;
        const kind = seq % 10;
        const about = messageIds.get(seq - 1) ?? messageIds.get(seq - 2);
        if ((kind === 5 || kind === 0) && about !== undefined) {
          events.push({
            tenant_id: tenantId,
            dialog_id: dialog.id,
            seq,
            kind: kind === 0 ? 'reactions' : 'edited',
            message_id: about,
            actor_id: other,
            created_at: at,
          });
          if (kind === 0)
            reactions.push({
              tenant_id: tenantId,
              message_id: about,
              user_id: other,
              emoji: '👍',
              created_at: at,
            });
          continue;
        }
        const id = newId();
        messageIds.set(seq, id);
        const senderId = seq % 2 === 0 ? sender : other;
        const text = bodyAt(seq);
        messages.push({
          id,
          tenant_id: tenantId,
          dialog_id: dialog.id,
          seq,
          sender_id: senderId,
          client_id: `grown-${dialog.id}-${seq}`,
          body: await deps.fieldCipher.sealForTenant(
            tx,
            messageLocation({ tenant_id: tenantId, id }, 'body'),
            text,
          ),
          reply_to: null,
          mentions: '[]',
          properties: null,
          created_at: at,
          edited_at: null,
          deleted_at: null,
        });
        indexed.push({ tenantId, messageId: id, dialogId: dialog.id, seq, senderId, createdAt: at, text });
      }
      if (messages.length > 0) await tx.insertInto('messages').values(messages).execute();
      if (events.length > 0) await tx.insertInto('dialog_events').values(events).execute();
      if (reactions.length > 0) await tx.insertInto('message_reactions').values(reactions).execute();
      for (const row of messages.filter((message) => message.seq % 30 === 1)) {
        const attachmentId = await fixtureAttachment(deps, tx, tenantId, row.sender_id);
        await tx
          .insertInto('attachment_shares')
          .values({
            tenant_id: tenantId,
            attachment_id: attachmentId,
            message_id: row.id,
            dialog_id: dialog.id,
            position: 0,
          })
          .execute();
      }
      const hidden = messages.filter((row) => row.seq % 50 === 3);
      if (hidden.length > 0)
        await tx
          .insertInto('hidden_messages')
          .values(hidden.map((row) => ({ tenant_id: tenantId, message_id: row.id, user_id: other })))
          .execute();
      await deps.index.indexMessages(tx, indexed);
      await tx
        .updateTable('dialogs')
        .set({ last_seq: end, last_activity_at: baseTime + end * 1000 })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', dialog.id)
        .execute();
    });
  }
}

/** One complete attachment (sealed name) for a grown message to share; its content is never read. */
async function fixtureAttachment(deps: GrowthDeps, tx: TenantTx, tenantId: string, uploaderId: string) {
  const id = newId();
  await tx
    .insertInto('attachments')
    .values({
      id,
      tenant_id: tenantId,
      uploader_id: uploaderId,
      status: 'complete',
      name: await deps.fieldCipher.sealForTenant(tx, attachmentLocation(tenantId, id, 'name'), 'plan.pdf'),
      declared_type: 'application/pdf',
      content_type: 'application/pdf',
      size: 1,
      content_key: '',
      stream_header: '',
      chunk_count: 0,
      created_at: Date.now(),
      completed_at: Date.now(),
    })
    .execute();
  return id;
}

/** Other people's one-to-one dialogs in the tenant: `count` new private dialogs of two made-up users each. */
export async function addPrivateDialogs(
  storage: Storage,
  tenantId: string,
  count: number,
  now: number,
): Promise<GrownDialog[]> {
  const dialogs: GrownDialog[] = [];
  await storage.withTenant(tenantId, async (tx) => {
    for (let index = 0; index < count; index++) {
      const id = newId();
      const memberIds = [newId(), newId()].sort();
      await tx
        .insertInto('dialogs')
        .values({
          id,
          tenant_id: tenantId,
          type: 'private',
          pair_key: memberIds.join(':'),
          name: null,
          description: null,
          photo_url: null,
          custom_data: null,
          created_by: memberIds[0] ?? '',
          hide_history: 0,
          last_seq: 0,
          pruned_seq: 0,
          last_activity_at: now,
          created_at: now,
          deleted_at: null,
        })
        .execute();
      await tx
        .insertInto('dialog_members')
        .values(
          memberIds.map((userId) => ({
            tenant_id: tenantId,
            dialog_id: id,
            user_id: userId,
            role: 'member' as const,
            joined_seq: 0,
            joined_at: now,
            left_at: null,
            read_seq: 0,
            delivered_seq: 0,
            cleared_seq: 0,
            muted: 0,
            pinned: 0,
          })),
        )
        .execute();
      dialogs.push({ id, memberIds });
    }
  });
  return dialogs;
}

/** Fresh planner statistics, as PostgreSQL's autovacuum keeps them; SQLite has none unless asked (Parley never asks). */
export async function refreshStatistics(storage: Storage): Promise<void> {
  if (storage.dialect !== 'postgres') return;
  // This schema's tables only: other test runs share the database.
  const { rows } = await sql<{ name: string }>`select tablename as name from pg_tables
    where schemaname = current_schema()`.execute(storage.kysely);
  await sql`analyze ${sql.join(rows.map((row) => sql.table(row.name)))}`.execute(storage.kysely);
}
