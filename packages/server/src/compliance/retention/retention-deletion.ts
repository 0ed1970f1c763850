import type { Clock } from '../../clock.ts';
import type { MessageAttachments } from '../../messaging/message-attachments.ts';
import type { MessageFanout } from '../../messaging/message-fanout.ts';
import type { MessageIndex } from '../../messaging/message-index.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { SweepStep } from './retention-rules.ts';

/** Dialogs whose sequence moved in a committed batch, to tell their members' nodes. */
export interface ExpiryHint {
  dialogId: string;
  from: number;
  seq: number;
  memberIds: string[];
}

type Rows = readonly { id: string; dialogId?: string }[];
type Deletion = (tx: TenantTx, tenantId: string, rows: Rows, hints: ExpiryHint[]) => Promise<string[]>;

/** The actor of a retention deletion event: not a person. */
export const RETENTION_ACTOR = 'retention';

/**
 * How each rule deletes the rows it expired, inside the batch's transaction. Messages expire as a deletion
 * for everyone does (messaging/message-change-service.ts): under the dialog's lock, text, properties,
 * reactions, files, search entry and earlier events of the message go, the row stays as a tombstone and a
 * sequenced `deleted` event takes the dialog's next sequence number, so every client drops the message — live,
 * or at its next resume (no gap: the event is read from the database like any other). Past the resume horizon
 * the tombstone goes too (`messageTombstones`), with every row keyed by the message, and the dialog's
 * `pruned_seq` records how far its stream was pruned, so a resume from before it gets a resync, not a gap.
 */
export function retentionDeletion(deps: {
  storage: Storage;
  clock: Clock;
  fanout: MessageFanout;
  index: MessageIndex;
  attachments: MessageAttachments;
  eraseAttachments: (tx: TenantTx, tenantId: string, ids: readonly string[]) => Promise<number>;
}): Record<SweepStep, Deletion> & { announce(tenantId: string, hints: ExpiryHint[]): Promise<void> } {
  const { storage, clock, index } = deps;
  const ids = (rows: Rows) => rows.map((row) => row.id);

  async function removeSearch(tx: TenantTx, tenantId: string, messageIds: readonly string[]) {
    if (messageIds.length === 0) return [];
    const searched = await tx
      .selectFrom('message_search')
      .select('message_id')
      .where('tenant_id', '=', tenantId)
      .where('message_id', 'in', messageIds)
      .execute();
    for (const { message_id } of searched) await index.removeMessage(tx, tenantId, message_id);
    return searched.map((row) => row.message_id);
  }

  return {
    async messages(tx, tenantId, rows, hints) {
      const byDialog = new Map<string, string[]>();
      for (const row of rows)
        byDialog.set(row.dialogId ?? '', [...(byDialog.get(row.dialogId ?? '') ?? []), row.id]);
      const expired: string[] = [];
      // One dialog lock at a time, in id order, as every writer takes them: no deadlock with sends.
      for (const dialogId of [...byDialog.keys()].sort()) {
        const dialog = await tx
          .selectFrom('dialogs')
          .selectAll()
          .where('tenant_id', '=', tenantId)
          .where('id', '=', dialogId)
          .$if(storage.dialect === 'postgres', (query) => query.forUpdate())
          .executeTakeFirst();
        if (!dialog) continue;
        const live = await tx
          .selectFrom('messages')
          .select(['id', 'seq'])
          .where('tenant_id', '=', tenantId)
          .where('id', 'in', byDialog.get(dialogId) ?? [])
          .where('deleted_at', 'is', null)
          .orderBy('seq')
          .execute();
        if (live.length === 0) continue;
        const liveIds = live.map((row) => row.id);
        const now = clock.now();
        await tx
          .updateTable('messages')
          .set({ body: null, properties: null, mentions: '[]', reply_to: null, deleted_at: now })
          .where('tenant_id', '=', tenantId)
          .where('id', 'in', liveIds)
          .execute();
        await tx
          .deleteFrom('message_reactions')
          .where('tenant_id', '=', tenantId)
          .where('message_id', 'in', liveIds)
          .execute();
        await tx
          .deleteFrom('dialog_events')
          .where('tenant_id', '=', tenantId)
          .where('dialog_id', '=', dialogId)
          .where('message_id', 'in', liveIds)
          .execute();
        for (const id of liveIds) await deps.attachments.release(tx, tenantId, id);
        await removeSearch(tx, tenantId, liveIds);
        const from = dialog.last_seq + 1;
        const seq = dialog.last_seq + liveIds.length;
        // One statement for the batch's events: the dialog's lock is held for as short a time as possible.
        await tx
          .insertInto('dialog_events')
          .values(
            liveIds.map((id, i) => ({
              tenant_id: tenantId,
              dialog_id: dialogId,
              seq: from + i,
              kind: 'deleted' as const,
              message_id: id,
              actor_id: RETENTION_ACTOR,
              created_at: now,
            })),
          )
          .execute();
        await tx
          .updateTable('dialogs')
          .set({ last_seq: seq })
          .where('tenant_id', '=', tenantId)
          .where('id', '=', dialogId)
          .execute();
        const members = await tx
          .selectFrom('dialog_members')
          .select('user_id')
          .where('tenant_id', '=', tenantId)
          .where('dialog_id', '=', dialogId)
          .where('left_at', 'is', null)
          .execute();
        hints.push({ dialogId, from, seq, memberIds: members.map((member) => member.user_id) });
        expired.push(...liveIds);
      }
      return expired;
    },

    /**
     * The last rows of messages deleted longer than the resume horizon ago: the tombstone, its events, and by
     * cascade its reactions, "deleted for me" rows, search entry and file shares; a removed file no message
     * shares any more goes with them. Under the dialog's lock, as the deletion was.
     */
    async messageTombstones(tx, tenantId, rows) {
      const byDialog = new Map<string, string[]>();
      for (const row of rows)
        byDialog.set(row.dialogId ?? '', [...(byDialog.get(row.dialogId ?? '') ?? []), row.id]);
      const pruned: string[] = [];
      for (const dialogId of [...byDialog.keys()].sort()) {
        const dialog = await tx
          .selectFrom('dialogs')
          .select(['id', 'pruned_seq'])
          .where('tenant_id', '=', tenantId)
          .where('id', '=', dialogId)
          .$if(storage.dialect === 'postgres', (query) => query.forUpdate())
          .executeTakeFirst();
        if (!dialog) continue;
        const tombstones = await tx
          .selectFrom('messages')
          .select(['id', 'seq'])
          .where('tenant_id', '=', tenantId)
          .where('dialog_id', '=', dialogId)
          .where('id', 'in', byDialog.get(dialogId) ?? [])
          .where('deleted_at', 'is not', null)
          .execute();
        if (tombstones.length === 0) continue;
        const messageIds = tombstones.map((row) => row.id);
        const events = await tx
          .selectFrom('dialog_events')
          .select('seq')
          .where('tenant_id', '=', tenantId)
          .where('dialog_id', '=', dialogId)
          .where('message_id', 'in', messageIds)
          .execute();
        const files = await tx
          .selectFrom('attachment_shares')
          .select('attachment_id')
          .where('tenant_id', '=', tenantId)
          .where('message_id', 'in', messageIds)
          .execute();
        await removeSearch(tx, tenantId, messageIds);
        await tx
          .deleteFrom('dialog_events')
          .where('tenant_id', '=', tenantId)
          .where('dialog_id', '=', dialogId)
          .where('message_id', 'in', messageIds)
          .execute();
        await tx
          .deleteFrom('messages')
          .where('tenant_id', '=', tenantId)
          .where('id', 'in', messageIds)
          .execute();
        if (files.length > 0)
          await tx
            .deleteFrom('attachments')
            .where('tenant_id', '=', tenantId)
            .where(
              'id',
              'in',
              files.map((file) => file.attachment_id),
            )
            .where('status', '=', 'removed')
            .where((eb) =>
              eb.not(
                eb.exists(
                  eb
                    .selectFrom('attachment_shares')
                    .select('attachment_id')
                    .whereRef('attachment_shares.attachment_id', '=', 'attachments.id')
                    .where('attachment_shares.tenant_id', '=', tenantId),
                ),
              ),
            )
            .execute();
        const top = Math.max(
          dialog.pruned_seq,
          ...tombstones.map((row) => row.seq),
          ...events.map((e) => e.seq),
        );
        await tx
          .updateTable('dialogs')
          .set({ pruned_seq: top })
          .where('tenant_id', '=', tenantId)
          .where('id', '=', dialogId)
          .execute();
        pruned.push(...messageIds);
      }
      return pruned;
    },

    async searchEntries(tx, tenantId, rows) {
      return removeSearch(tx, tenantId, ids(rows));
    },

    async attachments(tx, tenantId, rows) {
      await deps.eraseAttachments(tx, tenantId, ids(rows));
      return ids(rows);
    },

    async callRecords(tx, tenantId, rows) {
      await tx
        .deleteFrom('call_participants')
        .where('tenant_id', '=', tenantId)
        .where('call_id', 'in', ids(rows))
        .execute();
      await tx.deleteFrom('calls').where('tenant_id', '=', tenantId).where('id', 'in', ids(rows)).execute();
      return ids(rows);
    },

    async sessions(tx, tenantId, rows) {
      await tx
        .deleteFrom('used_refresh_tokens')
        .where('tenant_id', '=', tenantId)
        .where('session_id', 'in', ids(rows))
        .execute();
      await tx
        .deleteFrom('sessions')
        .where('tenant_id', '=', tenantId)
        .where('id', 'in', ids(rows))
        .execute();
      return ids(rows);
    },

    async mailOutbox(tx, tenantId, rows) {
      await tx
        .deleteFrom('mail_outbox')
        .where('tenant_id', '=', tenantId)
        .where('id', 'in', ids(rows))
        .execute();
      return ids(rows);
    },

    async exportArchives(tx, tenantId, rows) {
      await tx
        .deleteFrom('data_export_chunks')
        .where('tenant_id', '=', tenantId)
        .where('export_id', 'in', ids(rows))
        .execute();
      await tx
        .deleteFrom('data_export_parts')
        .where('tenant_id', '=', tenantId)
        .where('export_id', 'in', ids(rows))
        .execute();
      await tx
        .deleteFrom('data_exports')
        .where('tenant_id', '=', tenantId)
        .where('id', 'in', ids(rows))
        .execute();
      return ids(rows);
    },

    /** Tells every member's node about the expiries of a committed batch. */
    async announce(tenantId, hints) {
      for (const hint of hints)
        await deps.fanout.published(tenantId, hint.memberIds, {
          kind: 'seq',
          dialogId: hint.dialogId,
          seq: hint.seq,
          ...(hint.from < hint.seq ? { from: hint.from } : {}),
        });
    },
  };
}
