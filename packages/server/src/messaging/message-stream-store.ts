import type { TenantTx } from '../storage/database.ts';
import type { DialogRow, MemberRow, MessageRow } from './dialog-store.ts';
import type { DialogEventRow } from './message-event-store.ts';

/** Part of one dialog's stream to read: everything with a sequence number above `after`. */
export interface StreamRange {
  dialogId: string;
  after: number;
}

/** Dialogs per statement: SQLite allows 500 arms in one compound SELECT; this stays well under it. */
const RANGES_PER_STATEMENT = 100;

/**
 * The first `limit` rows above each range's position, in sequence order within each dialog. One arm per
 * dialog, `dialog_id = ? AND seq > ? ORDER BY seq LIMIT ?`, joined by UNION ALL: each arm walks the
 * `(dialog_id, seq)` index and stops after `limit` rows, so the read costs what it returns, however long the
 * dialogs' and the tenant's history. (A window over the ranges read every row above each position, and SQLite
 * found them by walking the tenant's rows: issue 11.) Each arm is a subquery so that its LIMIT is its own on
 * SQLite too. Two ranges of one dialog read as one from the lower position, as an OR of them would.
 */
async function firstPerDialog<Row>(
  tx: TenantTx,
  table: 'messages' | 'dialog_events',
  tenantId: string,
  ranges: readonly StreamRange[],
  limit: number,
): Promise<Row[]> {
  const lowest = new Map<string, number>();
  for (const { dialogId, after } of ranges)
    lowest.set(dialogId, Math.min(after, lowest.get(dialogId) ?? after));
  const merged = [...lowest].map(([dialogId, after]) => ({ dialogId, after }));
  const rows: unknown[] = [];
  for (let start = 0; start < merged.length; start += RANGES_PER_STATEMENT) {
    const arms = merged
      .slice(start, start + RANGES_PER_STATEMENT)
      .map((range, position) =>
        tx
          .selectFrom((inner) =>
            inner
              .selectFrom(table)
              .selectAll()
              .where('tenant_id', '=', tenantId)
              .where('dialog_id', '=', range.dialogId)
              .where('seq', '>', range.after)
              .orderBy('seq')
              .limit(limit)
              .as(`arm${position}`),
          )
          .selectAll(),
      );
    const [first, ...rest] = arms;
    if (!first) continue;
    rows.push(
      ...(await rest
        .reduce((query, arm) => query.unionAll(arm), first)
        .orderBy('seq')
        .execute()),
    );
  }
  return rows as Row[];
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
