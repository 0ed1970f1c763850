import type { TenantTx } from '../storage/database.ts';
import type { DialogRow, MemberRow, MessageRow } from './dialog-store.ts';
import type { DialogEventRow } from './message-event-store.ts';

/** Part of one dialog's stream to read: everything with a sequence number above `after`. */
export interface StreamRange {
  dialogId: string;
  after: number;
}

/** The first `limit` rows above each range's position, per dialog (a window over the dialogs' rows). */
async function firstPerDialog<Row>(
  tx: TenantTx,
  table: 'messages' | 'dialog_events',
  tenantId: string,
  ranges: readonly StreamRange[],
  limit: number,
): Promise<Row[]> {
  if (ranges.length === 0) return [];
  const ranked = tx
    .selectFrom(table)
    .selectAll()
    .select((eb) =>
      eb.fn
        .agg<number>('row_number')
        .over((over) => over.partitionBy('dialog_id').orderBy('seq'))
        .as('stream_rank'),
    )
    .where('tenant_id', '=', tenantId)
    .where((eb) =>
      eb.or(
        ranges.map((range) => eb.and([eb('dialog_id', '=', range.dialogId), eb('seq', '>', range.after)])),
      ),
    );
  const rows = await tx
    .selectFrom(ranked.as('ranked'))
    .selectAll()
    .where('stream_rank', '<=', limit)
    .orderBy('seq')
    .execute();
  for (const row of rows) delete (row as { stream_rank?: number }).stream_rank;
  return rows as unknown as Row[];
}

/**
 * Kysely queries that read the streams of several dialogs at once, so the realtime delivery of a turn's
 * changes in many dialogs costs a few statements, not a few per dialog. Every query names the tenant.
 */
export const messageStreamStore = {
  async dialogs(tx: TenantTx, tenantId: string, dialogIds: readonly string[]): Promise<DialogRow[]> {
    if (dialogIds.length === 0) return [];
    return tx
      .selectFrom('dialogs')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', dialogIds)
      .where('deleted_at', 'is', null)
      .execute();
  },

  /** The member rows (active or not) of these users in these dialogs. */
  async members(
    tx: TenantTx,
    tenantId: string,
    dialogIds: readonly string[],
    userIds: readonly string[],
  ): Promise<MemberRow[]> {
    if (dialogIds.length === 0 || userIds.length === 0) return [];
    return tx
      .selectFrom('dialog_members')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', 'in', dialogIds)
      .where('user_id', 'in', userIds)
      .execute();
  },

  /** Per range, the first `limit` messages above `after`, in sequence order. */
  async messages(
    tx: TenantTx,
    tenantId: string,
    ranges: readonly StreamRange[],
    limit: number,
  ): Promise<MessageRow[]> {
    return firstPerDialog<MessageRow>(tx, 'messages', tenantId, ranges, limit);
  },

  /** Per range, the first `limit` events above `after`, in sequence order. */
  async events(
    tx: TenantTx,
    tenantId: string,
    ranges: readonly StreamRange[],
    limit: number,
  ): Promise<DialogEventRow[]> {
    return firstPerDialog<DialogEventRow>(tx, 'dialog_events', tenantId, ranges, limit);
  },

  async messagesByIds(tx: TenantTx, tenantId: string, messageIds: readonly string[]): Promise<MessageRow[]> {
    if (messageIds.length === 0) return [];
    return tx
      .selectFrom('messages')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', messageIds)
      .execute();
  },
};
