import type { TenantTx } from '../storage/database.ts';
import type { DialectName } from '../storage/dialects/dialect-adapter.ts';
import type { DialogRow, MemberRow, MessageRow } from './dialog-store.ts';
import type { IndexedMessage, MessageIndex } from './message-index.ts';
import { messageSendStore } from './message-send-store.ts';
import type { MessagingLimits } from './messaging-limits.ts';

/** What a batch needs to know about each of its sends to read ahead for all of them. */
export interface BatchedSend {
  senderId: string;
  dialogId: string;
  clientId: string;
}

export interface SendBatchStateDeps {
  dialect: DialectName;
  index: MessageIndex;
  limits: (tx: TenantTx, tenantId: string) => Promise<MessagingLimits>;
}

/** Two ids as one map key (ids never contain a newline). */
const pairKey = (a: string, b: string) => `${a}\n${b}`;

/** Private dialogs in which either side blocked the other: nobody sends there. */
async function blockedDialogs(tx: TenantTx, tenantId: string, dialogs: readonly DialogRow[]) {
  const pairs = new Map<string, { pair: [string, string]; dialogId: string }>();
  for (const dialog of dialogs) {
    const [a, b] = dialog.type === 'private' && dialog.pair_key !== null ? dialog.pair_key.split(':') : [];
    if (a === undefined || b === undefined) continue;
    pairs.set(pairKey(a, b), { pair: [a, b], dialogId: dialog.id });
    pairs.set(pairKey(b, a), { pair: [b, a], dialogId: dialog.id });
  }
  const rows = await messageSendStore.blocksAmong(
    tx,
    tenantId,
    [...pairs.values()].map((entry) => entry.pair),
  );
  return new Set(rows.map((row) => pairs.get(pairKey(row.user_id, row.blocked_id))?.dialogId));
}

/**
 * The state of one batch of sends inside its transaction. It reads once, for all sends, what no send of the
 * batch changes: the dialogs (locked), their active members, blocks, earlier sends under the batch's client
 * ids. It keeps what the sends wrote so far, so later sends build on it (sequence numbers, client ids,
 * replies), and it writes what many sends share at the end, in few statements: the messages stored without
 * a savepoint, their search entries, the dialogs' last sequence and the senders' read positions.
 */
export async function openSendBatch(
  tx: TenantTx,
  deps: SendBatchStateDeps,
  tenantId: string,
  sends: readonly BatchedSend[],
) {
  const dialogIds = [...new Set(sends.map((send) => send.dialogId))].sort();
  const dialogs = await messageSendStore.lockDialogs(tx, tenantId, dialogIds, deps.dialect);
  const found = [...dialogs.keys()];
  const members =
    found.length === 0
      ? new Map<string, MemberRow[]>()
      : await messageSendStore.activeMembers(tx, tenantId, found);
  const earlierRows = await messageSendStore.bySenderClientIds(
    tx,
    tenantId,
    sends.map((send) => [send.senderId, send.clientId] as const),
  );
  const earlier = new Map(earlierRows.map((row) => [pairKey(row.sender_id, row.client_id), row]));
  const blocked = await blockedDialogs(tx, tenantId, [...dialogs.values()]);
  let tenantLimits: Promise<MessagingLimits> | undefined;
  /** Stored by this batch but not written yet. */
  const unwritten: MessageRow[] = [];
  const unindexed: IndexedMessage[] = [];
  /** Per dialog, what its row and each sender's member row must say at the end of the batch. */
  const positions = new Map<string, { lastSeq: number; at: number; readers: Map<string, number> }>();

  return {
    tx,
    tenantId,
    dialog: (dialogId: string) => dialogs.get(dialogId),
    /** The user's active membership, if any. */
    member: (dialogId: string, userId: string) =>
      members.get(dialogId)?.find((member) => member.user_id === userId),
    memberIds: (dialogId: string) => (members.get(dialogId) ?? []).map((member) => member.user_id),
    blocked: (dialogId: string) => blocked.has(dialogId),
    /** The message an earlier send (also of this batch) stored under this client id. */
    earlier: (senderId: string, clientId: string) => earlier.get(pairKey(senderId, clientId)),
    limits: () => (tenantLimits ??= deps.limits(tx, tenantId)),

    /**
     * The last step of a successful send: later sends of the batch build on it. `deferred` holds a message
     * row and search entry the batch is to write at the end (null when the send wrote its own).
     */
    stored(dialog: DialogRow, row: MessageRow, deferred: { search: IndexedMessage | null } | null) {
      dialog.last_seq = row.seq;
      dialog.last_activity_at = row.created_at;
      earlier.set(pairKey(row.sender_id, row.client_id), row);
      if (deferred) {
        unwritten.push(row);
        if (deferred.search) unindexed.push(deferred.search);
      }
      const position = positions.get(dialog.id) ?? { lastSeq: 0, at: 0, readers: new Map<string, number>() };
      position.lastSeq = row.seq;
      position.at = row.created_at;
      // The sender has read their own message.
      position.readers.set(row.sender_id, row.seq);
      positions.set(dialog.id, position);
    },

    /** Writes what the sends left for the end, before commit. */
    async finish() {
      await messageSendStore.insertMessages(tx, unwritten.splice(0));
      await deps.index.indexMessages(tx, unindexed.splice(0));
      await messageSendStore.setLastSeqs(
        tx,
        tenantId,
        [...positions].map(([dialogId, { lastSeq, at }]) => ({ dialogId, lastSeq, at })),
      );
      await messageSendStore.setReadSeqs(
        tx,
        tenantId,
        [...positions].flatMap(([dialogId, { readers }]) =>
          [...readers].map(([userId, seq]) => ({ dialogId, userId, seq })),
        ),
      );
    },
  };
}

export type SendBatchState = Awaited<ReturnType<typeof openSendBatch>>;
