import type { MessageBody, SendMessageBody } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import { newId } from '../ids.ts';
import { type Storage, type TenantTx, withSavepoint } from '../storage/database.ts';
import type { BatchOutcome } from './commit-batcher.ts';
import type { CommittedPages, CommittedRun } from './committed-pages.ts';
import { visibleFloor } from './dialog-rules.ts';
import { type DialogRow, dialogStore, type MemberRow, type MessageRow } from './dialog-store.ts';
import type { MessageAttachments } from './message-attachments.ts';
import type { MessageFanout } from './message-fanout.ts';
import type { IndexedMessage, MessageIndex } from './message-index.ts';
import { openSendBatch, type SendBatchState } from './message-send-batch-state.ts';
import { messageLocation, presentMessage, presentMessages, presentOpened } from './message-presenter.ts';
import type { MessagingLimits } from './messaging-limits.ts';

/** One `send` as the batch carries it. */
export interface SendRequest {
  senderId: string;
  dialogId: string;
  input: SendMessageBody;
}

export interface SendResult {
  message: MessageBody;
  duplicate: boolean;
}

export interface SendBatchDeps {
  storage: Storage;
  fieldCipher: FieldCipher;
  clock: Clock;
  fanout: MessageFanout;
  index: MessageIndex;
  attachments: MessageAttachments;
  limits: (tx: TenantTx, tenantId: string) => Promise<MessagingLimits>;
  /** Where this node keeps what it committed, for its own realtime delivery (absent: every read is SQL). */
  committed?: CommittedPages | undefined;
}

/**
 * Sends in ONE tenant transaction (group commit). Sends are processed by dialog id, each dialog's in arrival
 * order, and each takes the dialog's next sequence number under the lock the batch holds, so the order
 * everyone sees is arrival order and commit order, without gaps. A send refused with an AppError leaves
 * nothing behind and consumes no sequence number: its checks only read; a send whose writes can still refuse
 * it (sharing attachments checks each attachment) writes at once inside a savepoint that rolls back alone;
 * every other send's row and search entry are written with the others' at the end of the batch, where no
 * AppError can arise. Any other error fails the transaction (the batcher then retries each send alone).
 */
export function createSendBatch(deps: SendBatchDeps) {
  const { storage, fieldCipher, clock, fanout, index, attachments, limits, committed } = deps;

  async function checkSize(batch: SendBatchState, body: string): Promise<void> {
    const { maxMessageBytes } = await batch.limits();
    if (Buffer.byteLength(body, 'utf8') > maxMessageBytes)
      throw new AppError('message_too_large', `A message may have at most ${maxMessageBytes} bytes.`);
  }

  /** A reply names a message of this dialog the sender can see; mentions name current members. */
  async function checkReferences(
    batch: SendBatchState,
    dialog: DialogRow,
    member: MemberRow,
    input: SendMessageBody,
  ) {
    if (input.replyTo !== undefined) {
      // Not a message of this batch: its id is known to nobody before the batch commits.
      const target = await dialogStore.messageById(batch.tx, dialog.tenant_id, input.replyTo);
      if (target?.dialog_id !== dialog.id || target.seq <= visibleFloor(dialog, member))
        throw new AppError('validation_failed', 'replyTo names no message of this dialog.');
    }
    if (input.mentions.length > 0) {
      const members = new Set(batch.memberIds(dialog.id));
      if (input.mentions.some((userId) => !members.has(userId)))
        throw new AppError('validation_failed', 'mentions may name only members of this dialog.');
    }
  }

  /**
   * Everything that may refuse a send before it writes; reads only. Resolves with the earlier message when
   * the client id was used before (the send is a retry), or with the dialog to store under.
   */
  async function check(batch: SendBatchState, request: SendRequest) {
    const { senderId, dialogId, input } = request;
    const dialog = batch.dialog(dialogId);
    if (!dialog) throw new AppError('not_found');
    const member = batch.member(dialogId, senderId);
    if (!member) throw new AppError('not_found');
    const previous = batch.earlier(senderId, input.clientId);
    if (previous) {
      if (previous.dialog_id !== dialogId)
        throw new AppError('conflict', 'This client id was used for another dialog.');
      return { previous };
    }
    if (dialog.type === 'broadcast' && member.role === 'member') {
      throw new AppError('forbidden', 'Only the owner and admins post in a broadcast dialog.');
    }
    await checkSize(batch, input.body);
    if (batch.blocked(dialogId)) throw new AppError('blocked');
    await checkReferences(batch, dialog, member, input);
    return { dialog };
  }

  /** The message row of a send, its body and properties sealed; not written yet. */
  async function messageRow(tx: TenantTx, dialog: DialogRow, senderId: string, input: SendMessageBody) {
    const id = newId();
    const seal = (column: 'body' | 'properties', text: string) =>
      fieldCipher.sealForTenant(tx, messageLocation({ tenant_id: dialog.tenant_id, id }, column), text);
    const row: MessageRow = {
      id,
      tenant_id: dialog.tenant_id,
      dialog_id: dialog.id,
      seq: dialog.last_seq + 1,
      sender_id: senderId,
      client_id: input.clientId,
      body: await seal('body', input.body),
      reply_to: input.replyTo ?? null,
      mentions: JSON.stringify(input.mentions),
      properties:
        input.properties === undefined ? null : await seal('properties', JSON.stringify(input.properties)),
      created_at: clock.now(),
      edited_at: null,
      deleted_at: null,
    };
    return row;
  }

  const searchEntry = (row: MessageRow, text: string): IndexedMessage | null =>
    text.length === 0
      ? null
      : {
          tenantId: row.tenant_id,
          messageId: row.id,
          dialogId: row.dialog_id,
          seq: row.seq,
          senderId: row.sender_id,
          createdAt: row.created_at,
          text,
        };

  /** Stores a send that shares attachments: at once, because sharing may still refuse it. */
  async function storeWithAttachments(batch: SendBatchState, dialog: DialogRow, request: SendRequest) {
    const { tx, tenantId } = batch;
    const { senderId, input } = request;
    const row = await messageRow(tx, dialog, senderId, input);
    await dialogStore.insertMessage(tx, row);
    const shared = await attachments.share(tx, {
      tenantId,
      senderId,
      dialogId: dialog.id,
      messageId: row.id,
      attachmentIds: input.attachments,
    });
    const search = searchEntry(row, input.body);
    if (search) await index.indexMessages(tx, [search]);
    const message = await presentMessage(tx, fieldCipher, row, { attachments: shared });
    batch.stored(dialog, row, null);
    return message;
  }

  /**
   * One send inside the batch's transaction: its outcome, or a thrown error that fails the batch. An AppError
   * that escapes a write without a savepoint is unexpected: it fails the batch, and alone, on retry, only
   * this send.
   */
  async function sendOne(batch: SendBatchState, request: SendRequest): Promise<BatchOutcome<SendResult>> {
    let checked: Awaited<ReturnType<typeof check>>;
    try {
      checked = await check(batch, request);
    } catch (error) {
      if (error instanceof AppError) return { ok: false, error };
      throw error;
    }
    const { tx, tenantId } = batch;
    if (checked.previous) {
      const [message] = await presentMessages(tx, deps, tenantId, [checked.previous]);
      return {
        ok: true,
        value: {
          message: message ?? (await presentMessage(tx, fieldCipher, checked.previous)),
          duplicate: true,
        },
      };
    }
    const { dialog } = checked;
    if (request.input.attachments.length > 0) {
      try {
        const message = await withSavepoint(tx, () => storeWithAttachments(batch, dialog, request));
        return { ok: true, value: { message, duplicate: false } };
      } catch (error) {
        if (error instanceof AppError) return { ok: false, error };
        throw error;
      }
    }
    const { input } = request;
    const row = await messageRow(tx, dialog, request.senderId, input);
    const message = presentOpened(row, {
      body: input.body,
      properties: input.properties === undefined ? null : JSON.stringify(input.properties),
    });
    batch.stored(dialog, row, { search: searchEntry(row, request.input.body) });
    return { ok: true, value: { message, duplicate: false } };
  }

  /** Sends sorted by dialog id; sends to the same dialog keep their arrival order (the sort is stable). */
  const byDialog = (requests: readonly SendRequest[]) =>
    requests
      .map((request, position) => ({ request, position }))
      .sort((a, b) =>
        a.request.dialogId < b.request.dialogId ? -1 : a.request.dialogId > b.request.dialogId ? 1 : 0,
      );

  /** Commits `requests` in one transaction; one outcome per request, in their order. */
  return async function commitSends(
    tenantId: string,
    requests: readonly SendRequest[],
  ): Promise<BatchOutcome<SendResult>[]> {
    const outcomes: BatchOutcome<SendResult>[] = [];
    /** Per dialog, the lowest and highest seq this batch stored or re-announced, and who hears of it. */
    const hints = new Map<string, { from: number; seq: number; memberIds: string[] }>();
    const runs = new Map<string, CommittedRun & { broken?: boolean }>();
    await storage.withTenant(tenantId, async (tx) => {
      const batch = await openSendBatch(
        tx,
        { dialect: storage.dialect, index, limits },
        tenantId,
        requests.map(({ senderId, dialogId, input }) => ({ senderId, dialogId, clientId: input.clientId })),
      );
      for (const { request, position } of byDialog(requests)) {
        const outcome = await sendOne(batch, request);
        outcomes[position] = outcome;
        if (!outcome.ok) continue;
        const { dialogId } = request;
        const { seq } = outcome.value.message;
        const hint = hints.get(dialogId);
        if (!hint) hints.set(dialogId, { from: seq, seq, memberIds: batch.memberIds(dialogId) });
        else [hint.from, hint.seq] = [Math.min(hint.from, seq), Math.max(hint.seq, seq)];
        if (committed && !outcome.value.duplicate) draftRun(runs, outcome.value.message);
      }
      await batch.finish();
    });
    for (const [dialogId, run] of runs) if (run.items.length > 0) committed?.record(tenantId, dialogId, run);
    // After commit, never before: a hint must never announce a message that could still roll back. One hint
    // per dialog and batch, announcing every change the batch made there (`from`…`seq`): a receiver that
    // knows no position in the dialog reads from the first on. A retried send announces again, in case the
    // first announcement was lost with its process.
    await Promise.all(
      [...hints].map(([dialogId, { from, seq, memberIds }]) =>
        fanout.published(tenantId, memberIds, { kind: 'seq', dialogId, seq, from }),
      ),
    );
    return outcomes;
  };
}

/**
 * Adds a stored message to its dialog's run (the messages one batch stored there), for `CommittedPages`. A
 * message with attachments ends what the run can hold (an uploader may remove a file without a sequenced
 * change): the run is emptied for good, so the dialog's next run starts after a gap.
 */
function draftRun(runs: Map<string, CommittedRun & { broken?: boolean }>, message: MessageBody): void {
  let run = runs.get(message.dialogId);
  if (!run) {
    run = { after: message.seq - 1, upTo: message.seq - 1, items: [] };
    runs.set(message.dialogId, run);
  }
  if (run.broken === true || message.attachments.length > 0) {
    run.broken = true;
    run.items = [];
    return;
  }
  run.items.push({
    item: { type: 'message.new', seq: message.seq, message },
    messageId: message.id,
    messageSeq: message.seq,
  });
  run.upTo = message.seq;
}
