import type { ReactionSummary } from '@parley/protocol';
import type { TenantTx } from '../storage/database.ts';
import type { DialogEventsTable } from '../storage/tables.ts';

export type DialogEventRow = DialogEventsTable;

/** Kysely queries for what happens to messages after they are sent: events, reactions, "delete for me". */
export const messageEventStore = {
  async insertEvent(tx: TenantTx, row: DialogEventRow): Promise<void> {
    await tx.insertInto('dialog_events').values(row).execute();
  },

  /** Events with seq in (after, upTo], oldest first. */
  async eventsAfter(
    tx: TenantTx,
    tenantId: string,
    dialogId: string,
    after: number,
    limit: number,
  ): Promise<DialogEventRow[]> {
    return tx
      .selectFrom('dialog_events')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('dialog_id', '=', dialogId)
      .where('seq', '>', after)
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
  },

  async addReaction(
    tx: TenantTx,
    row: { tenant_id: string; message_id: string; user_id: string; emoji: string; created_at: number },
  ): Promise<boolean> {
    const inserted = await tx
      .insertInto('message_reactions')
      .values(row)
      .onConflict((conflict) => conflict.columns(['message_id', 'user_id', 'emoji']).doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
  },

  async removeReaction(
    tx: TenantTx,
    tenantId: string,
    messageId: string,
    userId: string,
    emoji: string,
  ): Promise<boolean> {
    const deleted = await tx
      .deleteFrom('message_reactions')
      .where('tenant_id', '=', tenantId)
      .where('message_id', '=', messageId)
      .where('user_id', '=', userId)
      .where('emoji', '=', emoji)
      .executeTakeFirst();
    return Number(deleted.numDeletedRows) > 0;
  },

  async clearReactions(tx: TenantTx, tenantId: string, messageId: string): Promise<void> {
    await tx
      .deleteFrom('message_reactions')
      .where('tenant_id', '=', tenantId)
      .where('message_id', '=', messageId)
      .execute();
  },

  async distinctReactionCount(tx: TenantTx, tenantId: string, messageId: string): Promise<number> {
    const rows = await tx
      .selectFrom('message_reactions')
      .select('emoji')
      .distinct()
      .where('tenant_id', '=', tenantId)
      .where('message_id', '=', messageId)
      .execute();
    return rows.length;
  },

  /** Reactions per message, each emoji in order of its first use, users in reaction order. */
  async reactionsOf(
    tx: TenantTx,
    tenantId: string,
    messageIds: readonly string[],
  ): Promise<Map<string, ReactionSummary[]>> {
    const result = new Map<string, ReactionSummary[]>();
    if (messageIds.length === 0) return result;
    const rows = await tx
      .selectFrom('message_reactions')
      .select(['message_id', 'emoji', 'user_id'])
      .where('tenant_id', '=', tenantId)
      .where('message_id', 'in', messageIds)
      .orderBy('created_at')
      .orderBy('user_id')
      .execute();
    for (const row of rows) {
      const summaries = result.get(row.message_id) ?? [];
      let summary = summaries.find((entry) => entry.emoji === row.emoji);
      if (!summary) {
        summary = { emoji: row.emoji, userIds: [] };
        summaries.push(summary);
      }
      summary.userIds.push(row.user_id);
      result.set(row.message_id, summaries);
    }
    return result;
  },

  async hide(tx: TenantTx, tenantId: string, messageId: string, userId: string): Promise<void> {
    await tx
      .insertInto('hidden_messages')
      .values({ tenant_id: tenantId, message_id: messageId, user_id: userId })
      .onConflict((conflict) => conflict.columns(['message_id', 'user_id']).doNothing())
      .execute();
  },

  /** Which of these messages each of these users deleted for themselves. */
  async hiddenFor(
    tx: TenantTx,
    tenantId: string,
    userIds: readonly string[],
    messageIds: readonly string[],
  ): Promise<{ userId: string; messageId: string }[]> {
    if (userIds.length === 0 || messageIds.length === 0) return [];
    const rows = await tx
      .selectFrom('hidden_messages')
      .select(['user_id', 'message_id'])
      .where('tenant_id', '=', tenantId)
      .where('user_id', 'in', userIds)
      .where('message_id', 'in', messageIds)
      .execute();
    return rows.map((row) => ({ userId: row.user_id, messageId: row.message_id }));
  },

  /** Which of these messages the user deleted for themselves. */
  async hiddenAmong(
    tx: TenantTx,
    tenantId: string,
    userId: string,
    messageIds: readonly string[],
  ): Promise<Set<string>> {
    if (messageIds.length === 0) return new Set();
    const rows = await tx
      .selectFrom('hidden_messages')
      .select('message_id')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('message_id', 'in', messageIds)
      .execute();
    return new Set(rows.map((row) => row.message_id));
  },
};
