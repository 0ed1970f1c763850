import type { CallRecord } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import { decodeKeysetCursor, encodeKeysetCursor } from '../keyset-cursor.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import { type CallRow, callStore, type ParticipantRow } from './call-store.ts';

const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());

function present(call: CallRow, participants: readonly ParticipantRow[]): CallRecord {
  return {
    id: call.id,
    dialogId: call.dialog_id,
    callerId: call.caller_id,
    media: call.media,
    state: call.state,
    outcome: call.outcome,
    createdAt: new Date(call.created_at).toISOString(),
    answeredAt: iso(call.answered_at),
    endedAt: iso(call.ended_at),
    durationSeconds:
      call.answered_at === null || call.ended_at === null
        ? 0
        : Math.round((call.ended_at - call.answered_at) / 1000),
    participants: participants.map((row) => ({
      userId: row.user_id,
      state: row.state,
      joinedAt: iso(row.joined_at),
      leftAt: iso(row.left_at),
    })),
  };
}

/** Call records: a user's own calls, or a dialog's calls for its members. */
export function createCallHistoryService(deps: { storage: Storage }) {
  const { storage } = deps;

  async function page(
    tenantId: string,
    filter: { userId?: string; dialogId?: string },
    query: { limit: number; cursor?: string | undefined },
    /** Checks the caller may list these calls; may narrow them to those since a time. */
    authorise?: (tx: TenantTx) => Promise<{ since?: number } | undefined>,
  ) {
    const before = query.cursor === undefined ? undefined : decodeKeysetCursor(query.cursor);
    return storage.withTenant(tenantId, async (tx) => {
      const since = (await authorise?.(tx))?.since;
      const calls = await callStore.history(
        tx,
        tenantId,
        { ...filter, ...(since === undefined ? {} : { since }) },
        { limit: query.limit, before },
      );
      const participants = await callStore.participants(
        tx,
        tenantId,
        calls.map((call) => call.id),
      );
      const last = calls.at(-1);
      return {
        calls: calls.map((call) =>
          present(
            call,
            participants.filter((row) => row.call_id === call.id),
          ),
        ),
        ...(calls.length === query.limit && last
          ? { nextCursor: encodeKeysetCursor({ at: last.created_at, id: last.id }) }
          : {}),
      };
    });
  }

  return {
    mine: (tenantId: string, userId: string, query: { limit: number; cursor?: string | undefined }) =>
      page(tenantId, { userId }, query),

    ofDialog: (
      tenantId: string,
      userId: string,
      dialogId: string,
      query: { limit: number; cursor?: string | undefined },
    ) =>
      page(tenantId, { dialogId }, query, async (tx) => {
        const member = await tx
          .selectFrom('dialog_members')
          .innerJoin('dialogs', 'dialogs.id', 'dialog_members.dialog_id')
          .select(['dialog_members.joined_at', 'dialogs.hide_history'])
          .where('dialog_members.tenant_id', '=', tenantId)
          .where('dialog_members.dialog_id', '=', dialogId)
          .where('dialog_members.user_id', '=', userId)
          .where('dialog_members.left_at', 'is', null)
          .where('dialogs.deleted_at', 'is', null)
          .executeTakeFirst();
        if (!member) throw new AppError('not_found');
        // Where the dialog hides history from newcomers, its earlier calls are hidden too.
        return member.hide_history === 1 ? { since: member.joined_at } : undefined;
      }),
  };
}

export type CallHistoryService = ReturnType<typeof createCallHistoryService>;
