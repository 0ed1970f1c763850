import { sql } from 'kysely';
import type { TenantTx } from '../storage/database.ts';
import type { DialectName } from '../storage/dialects/dialect-adapter.ts';
import type { DialogRow, MemberRow, MessageRow } from './dialog-store.ts';

/**
 * Kysely queries of a batch of sends (group commit): each reads or locks what all the batch's sends need in
 * one statement, so a batch costs a few statements more than its sends, not a few more per send.
 */
export const messageSendStore = {
  /**
   * The dialogs, locked on PostgreSQL until commit in ONE statement and in id order: every batch on every node
   * takes its dialog locks in the same order, so two batches may wait for each other but never deadlock.
   */
  async lockDialogs(
    tx: TenantTx,
    tenantId: string,
    dialogIds: readonly string[],
    dialect: DialectName,
  ): Promise<Map<string, DialogRow>> {
    const rows = await tx
      .selectFrom('dialogs')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', dialogIds)
      .where('deleted_at', 'is', null)
      .orderBy('id')
      .$if(dialect === 'postgres', (query) => query.forUpdate())
      .execute();
    return new Map(rows.map((row) => [row.id, row]));
  },

  /** Active members of each dialog, in joining order; a dialog without any is absent. */
  async activeMembers(
    tx: TenantTx,
    tenantId: string,
    dialogIds: readonly string[],
  ): Promise<Map<string, MemberRow[]>> {
    const rows = await tx
      .selectFrom('dialog_members')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', 'in', dialogIds)
      .where('left_at', 'is', null)
      .orderBy('dialog_id')
      .orderBy('joined_seq')
      .execute();
    const byDialog = new Map<string, MemberRow[]>();
    for (const row of rows) {
      const members = byDialog.get(row.dialog_id) ?? [];
      members.push(row);
      byDialog.set(row.dialog_id, members);
    }
    return byDialog;
  },

  /** Messages stored under these (sender, client id) pairs. */
  async bySenderClientIds(
    tx: TenantTx,
    tenantId: string,
    pairs: readonly (readonly [senderId: string, clientId: string])[],
  ): Promise<MessageRow[]> {
    return tx
      .selectFrom('messages')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where((eb) =>
        eb(
          eb.refTuple('sender_id', 'client_id'),
          'in',
          pairs.map(([senderId, clientId]) => eb.tuple(senderId, clientId)),
        ),
      )
      .execute();
  },

  /** Several messages in one statement. */
  async insertMessages(tx: TenantTx, rows: readonly MessageRow[]): Promise<void> {
    if (rows.length > 0) await tx.insertInto('messages').values(rows).execute();
  },

  /** Each dialog's last sequence number and activity time, in one statement. */
  async setLastSeqs(
    tx: TenantTx,
    tenantId: string,
    dialogs: readonly { dialogId: string; lastSeq: number; at: number }[],
  ): Promise<void> {
    if (dialogs.length === 0) return;
    // A VALUES list names its columns column1, column2, … on both dialects; its parameters need types.
    const rows = dialogs.map(
      ({ dialogId, lastSeq, at }) => sql`(${dialogId}, cast(${lastSeq} as bigint), cast(${at} as bigint))`,
    );
    await sql`update dialogs set last_seq = v.column2, last_activity_at = v.column3
      from (values ${sql.join(rows)}) as v
      where dialogs.tenant_id = ${tenantId} and dialogs.id = v.column1`.execute(tx);
  },

  /** Members' read and delivered positions (a sender has read their own messages), in one statement. */
  async setReadSeqs(
    tx: TenantTx,
    tenantId: string,
    members: readonly { dialogId: string; userId: string; seq: number }[],
  ): Promise<void> {
    if (members.length === 0) return;
    const rows = members.map(
      ({ dialogId, userId, seq }) => sql`(${dialogId}, ${userId}, cast(${seq} as bigint))`,
    );
    await sql`update dialog_members set read_seq = v.column3, delivered_seq = v.column3
      from (values ${sql.join(rows)}) as v
      where dialog_members.tenant_id = ${tenantId} and dialog_members.dialog_id = v.column1
        and dialog_members.user_id = v.column2`.execute(tx);
  },

  /** Which of these (user, blocked) pairs are blocks. */
  async blocksAmong(
    tx: TenantTx,
    tenantId: string,
    pairs: readonly (readonly [userId: string, blockedId: string])[],
  ): Promise<{ user_id: string; blocked_id: string }[]> {
    if (pairs.length === 0) return [];
    return tx
      .selectFrom('user_blocks')
      .select(['user_id', 'blocked_id'])
      .where('tenant_id', '=', tenantId)
      .where((eb) =>
        eb(
          eb.refTuple('user_id', 'blocked_id'),
          'in',
          pairs.map(([userId, blockedId]) => eb.tuple(userId, blockedId)),
        ),
      )
      .execute();
  },
};
