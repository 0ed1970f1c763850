import type { MessageBody, SendMessageBody } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import { createCommitBatcher } from './commit-batcher.ts';
import { visibleFloor } from './dialog-rules.ts';
import type { DialogService } from './dialog-service.ts';
import { dialogStore, type MessageRow } from './dialog-store.ts';
import type { CommittedPages } from './committed-pages.ts';
import type { MessageAttachments } from './message-attachments.ts';
import { messageEventStore } from './message-event-store.ts';
import type { MessageFanout } from './message-fanout.ts';
import type { MessageIndex } from './message-index.ts';
import { presentMessages } from './message-presenter.ts';
import { createSendBatch } from './message-send-batch.ts';
import type { MessagingLimits } from './messaging-limits.ts';
import type { SendRateLimiter } from './send-rate-limit.ts';

export interface HistoryPage {
  messages: MessageBody[];
  /** Pass as `before` (older) or `after` (newer) to continue. */
  oldestSeq: number | null;
  newestSeq: number | null;
}

/** Where a history page starts: a sequence window, a message (context around it) or a moment in time. */
export interface HistoryQuery {
  before?: number | undefined;
  after?: number | undefined;
  /** Context: about half the page before this message, the rest from it on. */
  around?: string | undefined;
  /** Jump to a date: the page starts at the first message sent at or after this time (ms). */
  at?: number | undefined;
  limit: number;
}

export interface MessageServiceDeps {
  fanout: MessageFanout;
  storage: Storage;
  fieldCipher: FieldCipher;
  dialogs: DialogService;
  clock: Clock;
  index: MessageIndex;
  attachments: MessageAttachments;
  limits: (tx: TenantTx, tenantId: string) => Promise<MessagingLimits>;
  sendRate: SendRateLimiter;
  committed?: CommittedPages | undefined;
}

export { refuseIfBlocked, visibleFloor } from './dialog-rules.ts';

/** The most sends one transaction carries. */
const MAX_SEND_BATCH = 256;
/**
 * A send batch starts beside one still committing (PostgreSQL) only once a whole batch waits, or once the one
 * in flight has run 100 ms (a dialog lock held by another transaction, a stalled commit): measured at 700 1:1
 * messages/s, overlapping batches whenever possible cost 15-20 points of both cores (a transaction per handful
 * of sends) and did not lower p99 (docs/performance.md).
 */
const SEND_BATCH_OVERLAP = { minWaiting: MAX_SEND_BATCH, afterMs: 100 };

/**
 * Sending and reading messages. A send is idempotent by client id, and takes the dialog's next sequence
 * number under the dialog row lock in the transaction that stores it: the order everyone sees is commit
 * order, without gaps. Concurrent sends of a tenant share transactions (group commit, see `message-send-batch.ts`);
 * the caller acknowledges only after `send` resolves, which is after its transaction committed.
 */
export function createMessageService(deps: MessageServiceDeps) {
  const { storage, dialogs } = deps;
  // Batches lock their dialogs: batches of disjoint dialogs may commit at once where the database allows it.
  const sends = createCommitBatcher({
    maxBatch: MAX_SEND_BATCH,
    commit: createSendBatch(deps),
    keyOf: (request) => request.dialogId,
    maxInFlight: storage.adapter.writeConcurrency,
    overlap: SEND_BATCH_OVERLAP,
  });

  return {
    async send(
      tenantId: string,
      senderId: string,
      dialogId: string,
      input: SendMessageBody,
    ): Promise<{ message: MessageBody; duplicate: boolean }> {
      if (input.body.trim().length === 0 && input.attachments.length === 0)
        throw new AppError('validation_failed', 'A message needs a text or an attachment.');
      deps.sendRate.take(tenantId, senderId, Buffer.byteLength(input.body));
      return sends.submit(tenantId, { senderId, dialogId, input });
    },

    /**
     * History the caller may see (after their "delete for me", and after joining when history is hidden),
     * without messages they deleted for themselves.
     */
    async history(
      tenantId: string,
      userId: string,
      dialogId: string,
      query: HistoryQuery,
    ): Promise<HistoryPage> {
      return storage.withTenant(tenantId, async (tx) => {
        const { dialog, member } = await dialogs.membership(tx, tenantId, dialogId, userId);
        if (!member && dialog.hide_history === 1) throw new AppError('not_found');
        const floor = visibleFloor(dialog, member);
        const rows = await pageRows(tx, tenantId, dialogId, floor, query);
        const hidden = await messageEventStore.hiddenAmong(
          tx,
          tenantId,
          userId,
          rows.map((row) => row.id),
        );
        const visible = rows.filter((row) => !hidden.has(row.id));
        return {
          messages: await presentMessages(tx, deps, tenantId, visible),
          oldestSeq: rows[0]?.seq ?? null,
          newestSeq: rows.at(-1)?.seq ?? null,
        };
      });
    },

    /**
     * A dialog's history as operator staff see it under a `messages` support grant the tenant approved for
     * this dialog (compliance/support-access/): every message not deleted, from no member's point of view (no
     * one's hidden or cleared messages apply). The grant check and its audit entry happen before this.
     */
    async supportHistory(tenantId: string, dialogId: string, query: HistoryQuery): Promise<HistoryPage> {
      return storage.withTenant(tenantId, async (tx) => {
        const dialog = await dialogStore.findDialog(tx, tenantId, dialogId);
        if (!dialog) throw new AppError('not_found');
        const rows = await pageRows(tx, tenantId, dialogId, 0, query);
        return {
          messages: await presentMessages(tx, deps, tenantId, rows),
          oldestSeq: rows[0]?.seq ?? null,
          newestSeq: rows.at(-1)?.seq ?? null,
        };
      });
    },
  };

  /** Rows of one page, oldest first. */
  async function pageRows(
    tx: TenantTx,
    tenantId: string,
    dialogId: string,
    floor: number,
    query: HistoryQuery,
  ): Promise<MessageRow[]> {
    const anchor = await anchorSeq(tx, tenantId, dialogId, query);
    if (anchor !== undefined) {
      const olderCount = Math.floor(query.limit / 2);
      const older =
        olderCount === 0
          ? []
          : await dialogStore.messages(tx, tenantId, dialogId, {
              floor,
              before: anchor,
              limit: olderCount,
              order: 'desc',
            });
      const newer = await dialogStore.messages(tx, tenantId, dialogId, {
        floor,
        after: anchor - 1,
        limit: query.limit - older.length,
        order: 'asc',
      });
      return [...older.reverse(), ...newer];
    }
    const order = query.after !== undefined && query.before === undefined ? 'asc' : 'desc';
    const rows = await dialogStore.messages(tx, tenantId, dialogId, {
      floor,
      before: query.before,
      after: query.after,
      limit: query.limit,
      order,
    });
    return order === 'desc' ? rows.reverse() : rows;
  }

  /** The sequence number a context (`around`) or date (`at`) query centres on; 404 for an unknown message. */
  async function anchorSeq(
    tx: TenantTx,
    tenantId: string,
    dialogId: string,
    query: HistoryQuery,
  ): Promise<number | undefined> {
    if (query.around !== undefined) {
      const message = await dialogStore.messageById(tx, tenantId, query.around);
      if (message?.dialog_id !== dialogId) throw new AppError('not_found', 'No such message in this dialog.');
      return message.seq;
    }
    if (query.at !== undefined) {
      const first = await dialogStore.firstMessageAtOrAfter(tx, tenantId, dialogId, query.at);
      return first?.seq ?? Number.MAX_SAFE_INTEGER;
    }
    return undefined;
  }
}

export type MessageService = ReturnType<typeof createMessageService>;
