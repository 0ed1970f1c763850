import type { ServerFrame } from '@parley/protocol';
import type { MessageStream, SharedStreamPage, StreamItem } from '../messaging/message-stream.ts';
import { visibleItems } from '../messaging/message-stream.ts';
import type { FrameWriter } from './frame-writer.ts';

const REPLAY_PAGE = 200;

/** A shared page's frames are the same for every socket: serialise each once. */
const serializedItems = new WeakMap<StreamItem, string>();
function serialized(item: StreamItem, dialogId: string, epoch: string): string {
  let text = serializedItems.get(item);
  if (text === undefined) {
    text = JSON.stringify({ ...item, dialogId, epoch } satisfies ServerFrame);
    serializedItems.set(item, text);
  }
  return text;
}

/** Whom a socket reads the stream as. */
export interface StreamReader {
  tenantId: string;
  userId: string | null;
}

export interface DialogDeliveryDeps {
  stream: MessageStream;
  epoch: string;
  writer: FrameWriter;
  /** The principal to read under, or undefined once the session ended (nothing more is delivered). */
  reader: () => StreamReader | undefined;
  /**
   * Changes `fromSeq`..`toSeq` of a dialog were written to this socket (the access log's realtime reads):
   * called synchronously, so it must not do I/O.
   */
  onDelivered?: ((dialogId: string, fromSeq: number, toSeq: number) => void) | undefined;
}

/**
 * What one socket delivered, per dialog, and the sends that move it forward. Deliveries per dialog are
 * gap-free and duplicate-free: every send is of sequence numbers above what this socket already delivered,
 * read from the database in order. Callers run one at a time (the socket's frame queue).
 */
export class DialogDelivery {
  readonly #delivered = new Map<string, number>();

  constructor(private readonly deps: DialogDeliveryDeps) {}

  /** The last sequence number delivered in the dialog (undefined: this socket has not seen it). */
  position(dialogId: string): number | undefined {
    return this.#delivered.get(dialogId);
  }

  /** Every dialog this socket has delivered (or resumed) in, with its last sequence number there. */
  positions(): [string, number][] {
    return [...this.#delivered];
  }

  /**
   * The client's `resume`: it has everything up to `seq`; sends every later change of the dialog — or, when
   * retention has since removed changes above `seq` for good (below the dialog's `pruned_seq`), a `resync`.
   */
  async resumeFrom(dialogId: string, seq: number): Promise<void> {
    this.#delivered.set(dialogId, Math.max(this.#delivered.get(dialogId) ?? 0, seq));
    await this.#deliver(dialogId, Number.MAX_SAFE_INTEGER);
  }

  /** Sends what `viewerId` may see of a page read once for every local reader (see `HubConnection`). */
  async deliverShared(
    viewerId: string,
    dialogId: string,
    page: SharedStreamPage,
    pageAfter: number,
    startAfter: number,
  ): Promise<void> {
    let known = this.#delivered.get(dialogId) ?? startAfter;
    // Behind the shared page (it was read for readers further on): catch up from the database first.
    if (known < pageAfter) {
      this.#delivered.set(dialogId, known);
      await this.#deliver(dialogId, pageAfter);
      const caughtUp = this.#delivered.get(dialogId);
      if (caughtUp === undefined) return; // told to resync
      known = caughtUp;
    }
    const viewer = page.viewers.get(viewerId);
    if (!viewer) return; // not a reader of this dialog (any more)
    if (this.#delivered.has(dialogId) && known < page.prunedTo) {
      this.#resync(dialogId);
      return;
    }
    let first: number | undefined;
    let last = 0;
    for (const item of visibleItems(page.items, viewer)) {
      if (item.seq <= known) continue;
      this.deps.writer.sendText(serialized(item, dialogId, this.deps.epoch));
      first ??= item.seq;
      last = item.seq;
    }
    if (first !== undefined) this.deps.onDelivered?.(dialogId, first, last);
    this.#delivered.set(dialogId, Math.max(known, page.upTo));
  }

  /** Tells the client to reload the dialog over REST; the socket forgets its position there. */
  #resync(dialogId: string): void {
    this.#delivered.delete(dialogId);
    this.deps.writer.send({ type: 'resync', dialogId, reason: 'too_far_behind' });
  }

  /** Sends, in order, every change of the dialog above what this socket delivered, up to `seq`. */
  async #deliver(dialogId: string, seq: number): Promise<void> {
    const reader = this.deps.reader();
    if (!reader?.userId) return;
    const known = this.#delivered.get(dialogId);
    // A live hint for a dialog this socket has not seen: start at that change.
    let after = known ?? seq - 1;
    if (seq <= after) return;
    for (;;) {
      const page = await this.deps.stream.after(reader.tenantId, reader.userId, dialogId, after, REPLAY_PAGE);
      if (!page.readable) return; // no longer a member: nothing to deliver
      // Changes above this position were pruned for good (a tombstone past the resume horizon): replaying what
      // is left would leave the client showing a message that is gone. A socket without a position has shown
      // nothing of the dialog and starts at the hinted change as always.
      if (known !== undefined && after < page.prunedTo) {
        this.#resync(dialogId);
        return;
      }
      for (const item of page.items) this.deps.writer.send({ ...item, dialogId, epoch: this.deps.epoch });
      const first = page.items[0];
      const last = page.items.at(-1);
      if (first && last) this.deps.onDelivered?.(dialogId, first.seq, last.seq);
      after = Math.max(after, page.upTo);
      this.#delivered.set(dialogId, after);
      if (!page.more || after >= seq) return;
    }
  }
}
