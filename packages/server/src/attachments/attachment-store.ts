import type { TenantTx } from '../storage/database.ts';
import type { DialectName } from '../storage/dialects/dialect-adapter.ts';
import type { AttachmentChunksTable, AttachmentSharesTable, AttachmentsTable } from '../storage/tables.ts';

export type AttachmentRow = AttachmentsTable;
export type ChunkRow = AttachmentChunksTable;
export type ShareRow = AttachmentSharesTable;

/** Kysely queries for attachments, their encrypted chunks and where they were shared; every query names the tenant. */
export const attachmentStore = {
  async insert(tx: TenantTx, row: AttachmentRow): Promise<void> {
    await tx.insertInto('attachments').values(row).execute();
  },

  async find(tx: TenantTx, tenantId: string, id: string): Promise<AttachmentRow | undefined> {
    return tx
      .selectFrom('attachments')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
  },

  /**
   * The attachment row, locked on PostgreSQL until the transaction ends, so two erasures of one attachment
   * (a delete and a message deletion) take turns; NO KEY UPDATE, so a message sharing it meanwhile (whose
   * foreign key takes a KEY SHARE lock) is not blocked. SQLite serialises writers.
   */
  async lock(
    tx: TenantTx,
    tenantId: string,
    id: string,
    dialect: DialectName,
  ): Promise<AttachmentRow | undefined> {
    return tx
      .selectFrom('attachments')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .$if(dialect === 'postgres', (query) => query.forNoKeyUpdate())
      .executeTakeFirst();
  },

  /**
   * Complete attachments among `ids`, for sharing. On PostgreSQL they stay share-locked until the
   * transaction ends, in id order (the order `lock` is taken in by a message deletion): an erasure under
   * way (`lock`) is waited for, and the row is read again after it, so a share never meets a row deleted
   * under it (a foreign-key error) nor records a share of a removed attachment; an erasure that comes second
   * waits for the share and sees the new message. SQLite serialises writers.
   */
  async findComplete(
    tx: TenantTx,
    tenantId: string,
    ids: readonly string[],
    dialect: DialectName,
  ): Promise<AttachmentRow[]> {
    if (ids.length === 0) return [];
    return tx
      .selectFrom('attachments')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', ids)
      .where('status', '=', 'complete')
      .orderBy('id')
      .$if(dialect === 'postgres', (query) => query.forShare())
      .execute();
  },

  async update(tx: TenantTx, tenantId: string, id: string, changes: Partial<AttachmentRow>): Promise<void> {
    await tx
      .updateTable('attachments')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  },

  /** The attachment with its chunks and shares. */
  async remove(tx: TenantTx, tenantId: string, id: string): Promise<void> {
    await tx
      .deleteFrom('attachment_chunks')
      .where('tenant_id', '=', tenantId)
      .where('attachment_id', '=', id)
      .execute();
    await tx
      .deleteFrom('attachment_shares')
      .where('tenant_id', '=', tenantId)
      .where('attachment_id', '=', id)
      .execute();
    await tx.deleteFrom('attachments').where('tenant_id', '=', tenantId).where('id', '=', id).execute();
  },

  /**
   * Erases the attachment for good in this database: its chunks and its sealed content key and name are
   * deleted. While a message that is not deleted still shares it, the row stays as a tombstone (status
   * `removed`, nothing sealed left) so that message shows it as removed; otherwise nothing of it stays.
   */
  async erase(tx: TenantTx, tenantId: string, id: string): Promise<void> {
    if (!(await attachmentStore.sharedByLiveMessage(tx, tenantId, id))) {
      await attachmentStore.remove(tx, tenantId, id);
      return;
    }
    await tx
      .deleteFrom('attachment_chunks')
      .where('tenant_id', '=', tenantId)
      .where('attachment_id', '=', id)
      .execute();
    await attachmentStore.update(tx, tenantId, id, {
      status: 'removed',
      name: '',
      declared_type: null,
      content_type: '',
      size: 0,
      content_key: '',
      stream_header: '',
      chunk_count: 0,
    });
  },

  /** Whether a message that is not deleted (for everyone) shares the attachment, other than `exceptMessageId`. */
  async sharedByLiveMessage(
    tx: TenantTx,
    tenantId: string,
    attachmentId: string,
    exceptMessageId?: string,
  ): Promise<boolean> {
    const row = await tx
      .selectFrom('attachment_shares as s')
      .innerJoin('messages as m', 'm.id', 's.message_id')
      .innerJoin('dialogs as d', 'd.id', 's.dialog_id')
      .select('s.message_id')
      .where('s.tenant_id', '=', tenantId)
      .where('s.attachment_id', '=', attachmentId)
      .where('m.tenant_id', '=', tenantId)
      .where('m.deleted_at', 'is', null)
      .where('d.tenant_id', '=', tenantId)
      .where('d.deleted_at', 'is', null)
      .$if(exceptMessageId !== undefined, (query) => query.where('s.message_id', '!=', exceptMessageId ?? ''))
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  },

  /** The ids of the attachments shared anywhere in a dialog, sorted (the order locks are taken in). */
  async sharedInDialog(tx: TenantTx, tenantId: string, dialogId: string): Promise<string[]> {
    const rows = await tx
      .selectFrom('attachment_shares')
      .select('attachment_id')
      .distinct()
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .orderBy('attachment_id')
      .execute();
    return rows.map((row) => row.attachment_id);
  },

  /** The ids of the attachments a message shares, sorted (the order locks are taken in). */
  async sharedIn(tx: TenantTx, tenantId: string, messageId: string): Promise<string[]> {
    const rows = await tx
      .selectFrom('attachment_shares')
      .select('attachment_id')
      .where('tenant_id', '=', tenantId)
      .where('message_id', '=', messageId)
      .orderBy('attachment_id')
      .execute();
    return rows.map((row) => row.attachment_id);
  },

  async insertChunks(tx: TenantTx, rows: readonly ChunkRow[]): Promise<void> {
    if (rows.length > 0) await tx.insertInto('attachment_chunks').values(rows).execute();
  },

  /** Chunks `from` to `to` (inclusive), in order. */
  async chunks(tx: TenantTx, tenantId: string, id: string, from: number, to: number): Promise<ChunkRow[]> {
    return tx
      .selectFrom('attachment_chunks')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('attachment_id', '=', id)
      .where('idx', '>=', from)
      .where('idx', '<=', to)
      .orderBy('idx')
      .execute();
  },

  /**
   * Whether `userId` can see a message sharing the attachment: a current member of a live dialog, the message
   * not deleted and not hidden by this member ("delete for me"), and after what the member cleared and (when
   * the dialog hides history) after they joined.
   */
  async visibleTo(tx: TenantTx, tenantId: string, attachmentId: string, userId: string): Promise<boolean> {
    const row = await tx
      .selectFrom('attachment_shares as s')
      .innerJoin('messages as m', 'm.id', 's.message_id')
      .innerJoin('dialogs as d', 'd.id', 's.dialog_id')
      .innerJoin('dialog_members as dm', (join) =>
        join.onRef('dm.dialog_id', '=', 's.dialog_id').on('dm.user_id', '=', userId),
      )
      .select('s.message_id')
      .where('s.tenant_id', '=', tenantId)
      .where('s.attachment_id', '=', attachmentId)
      .where('m.tenant_id', '=', tenantId)
      .where('m.deleted_at', 'is', null)
      .where('d.tenant_id', '=', tenantId)
      .where('d.deleted_at', 'is', null)
      .where('dm.tenant_id', '=', tenantId)
      .where('dm.left_at', 'is', null)
      .whereRef('m.seq', '>', 'dm.cleared_seq')
      .where((eb) => eb.or([eb('d.hide_history', '=', 0), eb('m.seq', '>', eb.ref('dm.joined_seq'))]))
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('hidden_messages as h')
              .select('h.message_id')
              .where('h.tenant_id', '=', tenantId)
              .whereRef('h.message_id', '=', 's.message_id')
              .where('h.user_id', '=', userId),
          ),
        ),
      )
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  },

  async insertShares(tx: TenantTx, rows: readonly ShareRow[]): Promise<void> {
    if (rows.length > 0) await tx.insertInto('attachment_shares').values(rows).execute();
  },

  /** The shares of `messageIds` with their attachments, by message and position. */
  async sharesOf(tx: TenantTx, tenantId: string, messageIds: readonly string[]) {
    if (messageIds.length === 0) return [];
    return tx
      .selectFrom('attachment_shares as s')
      .innerJoin('attachments as a', 'a.id', 's.attachment_id')
      .select(['s.message_id', 'a.id', 'a.status', 'a.name', 'a.content_type', 'a.size'])
      .where('s.tenant_id', '=', tenantId)
      .where('a.tenant_id', '=', tenantId)
      .where('s.message_id', 'in', messageIds)
      .orderBy('s.message_id')
      .orderBy('s.position')
      .execute();
  },
};
