import type { MessageFanout, UserHint } from '../messaging/message-fanout.ts';
import type { MessageStream, SharedStreamPage } from '../messaging/message-stream.ts';
import type { Logger } from '../observability/logger.ts';

const PAGE = 200;

/** What the hub needs of a connection. */
export interface HubConnection {
  /** A receipt or typing hint: forwarded as it is. */
  signal(hint: Exclude<UserHint, { kind: 'seq' }>): void;
  /** Where this connection is in the dialog's stream (undefined: it has not seen the dialog). */
  position(dialogId: string): number | undefined;
  /**
   * A page read once for every local reader of the dialog; the connection sends what it has not sent and
   * may see, in order (queued behind its own frames). `startAfter` is where a connection that has not seen
   * the dialog starts.
   */
  deliverShared(dialogId: string, page: SharedStreamPage, pageAfter: number, startAfter: number): void;
}

/** Hints for one dialog gathered in one turn of the event loop. */
interface Batch {
  tenantId: string;
  dialogId: string;
  /** Each waiting connection and where it starts. */
  starts: Map<HubConnection, number>;
  readers: Set<string>;
}

/**
 * Per node: one bus subscription per connected user (not per socket), and one database read per dialog
 * change for all the local sockets that need it, instead of one per socket. Hints that arrive together
 * (a message into a group hints every member) are coalesced into one read on the next turn of the loop.
 */
export class DeliveryHub {
  readonly #users = new Map<
    string,
    { connections: Set<HubConnection>; unsubscribe: Promise<() => Promise<void>> }
  >();
  readonly #pending = new Map<string, Batch>();
  readonly #flushing = new Map<string, Promise<void>>();
  #scheduled = false;

  constructor(private readonly deps: { fanout: MessageFanout; stream: MessageStream; logger: Logger }) {}

  /** Starts delivering to a connection; resolves once its user's hints are subscribed. */
  async attach(tenantId: string, userId: string, connection: HubConnection): Promise<() => Promise<void>> {
    const key = `${tenantId}:${userId}`;
    let entry = this.#users.get(key);
    if (!entry) {
      const connections = new Set<HubConnection>();
      entry = {
        connections,
        unsubscribe: this.deps.fanout.subscribe(tenantId, userId, (hint) => {
          this.#onHint(tenantId, userId, connections, hint);
        }),
      };
      this.#users.set(key, entry);
    }
    entry.connections.add(connection);
    await entry.unsubscribe;
    return async () => {
      const current = this.#users.get(key);
      if (!current) return;
      current.connections.delete(connection);
      if (current.connections.size > 0) return;
      this.#users.delete(key);
      await (
        await current.unsubscribe
      )();
    };
  }

  #onHint(tenantId: string, userId: string, connections: Set<HubConnection>, hint: UserHint): void {
    if (hint.kind !== 'seq') {
      for (const connection of connections) connection.signal(hint);
      return;
    }
    const key = `${tenantId}:${hint.dialogId}`;
    let batch = this.#pending.get(key);
    if (!batch) {
      batch = { tenantId, dialogId: hint.dialogId, starts: new Map(), readers: new Set() };
      this.#pending.set(key, batch);
    }
    for (const connection of connections) {
      const known = connection.position(hint.dialogId);
      if (known !== undefined && known >= hint.seq) continue;
      const start = known ?? hint.seq - 1;
      batch.starts.set(connection, Math.min(start, batch.starts.get(connection) ?? start));
      batch.readers.add(userId);
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        const batches = [...this.#pending.entries()];
        this.#pending.clear();
        for (const [key, ready] of batches) {
          // One dialog's reads finish in the order they started: a later page must never reach a socket
          // before an earlier one, or the socket would skip the earlier page's messages as already passed.
          const previous = this.#flushing.get(key) ?? Promise.resolve();
          const current = previous.then(() => this.#flush(ready));
          this.#flushing.set(key, current);
          void current.finally(() => {
            if (this.#flushing.get(key) === current) this.#flushing.delete(key);
          });
        }
      });
    }
  }

  async #flush(batch: Batch): Promise<void> {
    if (batch.starts.size === 0) return;
    const readers = [...batch.readers];
    let after = Math.min(...batch.starts.values());
    try {
      for (;;) {
        const page = await this.deps.stream.shared(batch.tenantId, batch.dialogId, after, PAGE, readers);
        for (const [connection, start] of batch.starts)
          connection.deliverShared(batch.dialogId, page, after, start);
        if (!page.more || page.upTo <= after) return;
        after = page.upTo;
      }
    } catch (error) {
      // Nothing is lost: the next hint or the client's resume reads the database again.
      this.deps.logger.error({ err: error }, 'realtime delivery read failed');
    }
  }
}
