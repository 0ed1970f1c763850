import type { TenantTx } from '../storage/database.ts';
import type { DialectName } from '../storage/dialects/dialect-adapter.ts';
import type { DialogMembersTable, DialogsTable, MessagesTable } from '../storage/tables.ts';

export type DialogRow = DialogsTable;
export type MemberRow = DialogMembersTable;
export type MessageRow = MessagesTable;

/** Kysely queries for dialogs, their members and messages; every query names the tenant. */
export const dialogStore = {
  async insertDialog(tx: TenantTx, row: DialogRow): Promise<void> {
    await tx.insertInto('dialogs').values(row).execute();
  },

  async findDialog(tx: TenantTx, tenantId: string, dialogId: string): Promise<DialogRow | undefined> {
    return tx
      .selectFrom('dialogs')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', dialogId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
  },

  /**
   * The dialog row, locked on PostgreSQL until the transaction ends: every change in a dialog takes its
   * sequence number under this lock, so sequence order is commit order. (SQLite serialises writers.)
   */
  async lockDialog(tx: TenantTx, tenantId: string, dialogId: string, dialect: DialectName) {
    return tx
      .selectFrom('dialogs')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', dialogId)
      .where('deleted_at', 'is', null)
      .$if(dialect === 'postgres', (query) => query.forUpdate())
      .executeTakeFirst();
  },

  async findPair(tx: TenantTx, tenantId: string, pairKey: string): Promise<DialogRow | undefined> {
    return tx
      .selectFrom('dialogs')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('pair_key', '=', pairKey)
      .executeTakeFirst();
  },

  async updateDialog(tx: TenantTx, tenantId: string, dialogId: string, changes: Partial<DialogRow>) {
    await tx
      .updateTable('dialogs')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', dialogId)
      .execute();
  },

  async insertMember(tx: TenantTx, row: MemberRow): Promise<void> {
    await tx.insertInto('dialog_members').values(row).execute();
  },

  async member(
    tx: TenantTx,
    tenantId: string,
    dialogId: string,
    userId: string,
  ): Promise<MemberRow | undefined> {
    return tx
      .selectFrom('dialog_members')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
  },

  /** The membership rows (active or not) of these users in the dialog. */
  async membersAmong(tx: TenantTx, tenantId: string, dialogId: string, userIds: readonly string[]) {
    if (userIds.length === 0) return [];
    return tx
      .selectFrom('dialog_members')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .where('user_id', 'in', userIds)
      .execute();
  },

  async activeMembers(tx: TenantTx, tenantId: string, dialogId: string): Promise<MemberRow[]> {
    return tx
      .selectFrom('dialog_members')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .where('left_at', 'is', null)
      .orderBy('joined_seq')
      .execute();
  },

  async activeMemberIds(tx: TenantTx, tenantId: string, dialogId: string): Promise<string[]> {
    const rows = await tx
      .selectFrom('dialog_members')
      .select('user_id')
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .where('left_at', 'is', null)
      .orderBy('joined_seq')
      .execute();
    return rows.map((row) => row.user_id);
  },

  async updateMember(
    tx: TenantTx,
    tenantId: string,
    dialogId: string,
    userId: string,
    changes: Partial<MemberRow>,
  ) {
    await tx
      .updateTable('dialog_members')
      .set(changes)
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .where('user_id', '=', userId)
      .execute();
  },

  /** The caller's dialogs by last activity, newest first, after an optional keyset cursor. */
  async dialogsOf(
    tx: TenantTx,
    tenantId: string,
    userId: string,
    page: { limit: number; before?: { at: number; id: string } | undefined },
  ) {
    let query = tx
      .selectFrom('dialogs')
      .innerJoin('dialog_members', 'dialog_members.dialog_id', 'dialogs.id')
      .selectAll('dialogs')
      .select([
        'dialog_members.role',
        'dialog_members.read_seq',
        'dialog_members.cleared_seq',
        'dialog_members.joined_seq',
        'dialog_members.muted',
        'dialog_members.pinned',
      ])
      .where('dialogs.tenant_id', '=', tenantId)
      .where('dialog_members.tenant_id', '=', tenantId)
      .where('dialog_members.user_id', '=', userId)
      .where('dialog_members.left_at', 'is', null)
      .where('dialogs.deleted_at', 'is', null);
    const before = page.before;
    if (before) {
      query = query.where((eb) =>
        eb.or([
          eb('dialogs.last_activity_at', '<', before.at),
          eb.and([eb('dialogs.last_activity_at', '=', before.at), eb('dialogs.id', '<', before.id)]),
        ]),
      );
    }
    return query
      .orderBy('dialogs.last_activity_at', 'desc')
      .orderBy('dialogs.id', 'desc')
      .limit(page.limit)
      .execute();
  },

  async insertMessage(tx: TenantTx, row: MessageRow): Promise<void> {
    await tx.insertInto('messages').values(row).execute();
  },

  async messageByClientId(tx: TenantTx, tenantId: string, senderId: string, clientId: string) {
    return tx
      .selectFrom('messages')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('sender_id', '=', senderId)
      .where('client_id', '=', clientId)
      .executeTakeFirst();
  },

  async updateMessage(tx: TenantTx, message: MessageRow, changes: Partial<MessageRow>): Promise<void> {
    await tx
      .updateTable('messages')
      .set(changes)
      .where('tenant_id', '=', message.tenant_id)
      .where('id', '=', message.id)
      .execute();
  },

  async messageById(tx: TenantTx, tenantId: string, messageId: string): Promise<MessageRow | undefined> {
    return tx
      .selectFrom('messages')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', messageId)
      .executeTakeFirst();
  },

  /**
   * The first message sent at or after `at`, by its time: one step down the `(dialog_id, created_at)` index,
   * whatever the length of the dialog's history (ordered by seq, it read every message since `at`, or before
   * it). Times follow seqs unless a clock went backwards; then this is the earliest-stamped such message
   * (of two stamped in the same millisecond, either).
   */
  async firstMessageAtOrAfter(tx: TenantTx, tenantId: string, dialogId: string, at: number) {
    return tx
      .selectFrom('messages')
      .select('seq')
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .where('created_at', '>=', at)
      .orderBy('created_at', 'asc')
      .limit(1)
      .executeTakeFirst();
  },

  async messageAt(
    tx: TenantTx,
    tenantId: string,
    dialogId: string,
    seq: number,
  ): Promise<MessageRow | undefined> {
    return tx
      .selectFrom('messages')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .where('seq', '=', seq)
      .executeTakeFirst();
  },

  /** Messages with seq in (after, before), newest or oldest first, never at or below `floor`. */
  async messages(
    tx: TenantTx,
    tenantId: string,
    dialogId: string,
    range: {
      floor: number;
      after?: number | undefined;
      before?: number | undefined;
      limit: number;
      order: 'asc' | 'desc';
    },
  ): Promise<MessageRow[]> {
    let query = tx
      .selectFrom('messages')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .where('seq', '>', Math.max(range.floor, range.after ?? 0));
    if (range.before !== undefined) query = query.where('seq', '<', range.before);
    return query.orderBy('seq', range.order).limit(range.limit).execute();
  },

  async unreadCount(tx: TenantTx, tenantId: string, dialogId: string, userId: string, afterSeq: number) {
    const row = await tx
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .where('seq', '>', afterSeq)
      .where('sender_id', '!=', userId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row?.n ?? 0;
  },
};
