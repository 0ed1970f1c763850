import type { MessageFanout, UserHint } from '../messaging/message-fanout.ts';
import type { MessageStream, SharedStreamPage } from '../messaging/message-stream.ts';
import type { Logger } from '../observability/logger.ts';
import type { RealtimeMetrics } from '../observability/metrics.ts';

const PAGE = 200;
/** At most this many dialogs in one read (bounds the statement's parameters and the page sizes). */
const DIALOGS_PER_READ = 100;
/** After a failed read (the database away), its dialogs are read again this much later. */
const RETRY_READ_MS = 1000;

/** What the hub needs of a connection. */
export interface HubConnection {
  /** A receipt or typing hint: forwarded as it is. */
  signal(hint: Exclude<UserHint, { kind: 'seq' }>): void;
  /** Where this connection is in the dialog's stream (undefined: it has not seen the dialog). */
  position(dialogId: string): number | undefined;
  /** Every dialog this connection has a position in, with that position. */
  positions(): Iterable<[dialogId: string, seq: number]>;
  /**
   * A page read once for every local reader of the dialog; the connection sends what it has not sent and
   * may see, in order (queued behind its own frames). `startAfter` is where a connection that has not seen
   * the dialog starts.
   */
  deliverShared(dialogId: string, page: SharedStreamPage, pageAfter: number, startAfter: number): void;
}

/** Hints for one dialog gathered while the tenant's previous read ran (or in one turn of the event loop). */
interface Batch {
  dialogId: string;
  /** Each waiting connection and where it starts. */
  starts: Map<HubConnection, number>;
  readers: Set<string>;
}

/**
 * Per node: one bus subscription per connected user (not per socket), and one database read for all the
 * dialogs that changed, for all the local sockets that need them, instead of one read per socket and dialog.
 * Each tenant has one reader at a time: hints that arrive while it reads (a busy node gets many) are
 * gathered and read together next, so the work per change falls as load rises, and one dialog's pages
 * reach the sockets in the order they were read.
 */
export class DeliveryHub {
  readonly #users = new Map<
    string,
    {
      tenantId: string;
      userId: string;
      connections: Set<HubConnection>;
      unsubscribe: Promise<() => Promise<void>>;
    }
  >();
  /** Per tenant, per dialog: what waits for the tenant's next read. */
  readonly #pending = new Map<string, Map<string, Batch>>();
  /** Tenants whose reader is running (or scheduled). */
  readonly #reading = new Set<string>();
  /** Per tenant, per dialog: what a failed read left, read again after `retryReadMs`. */
  readonly #retrying = new Map<string, Map<string, Batch>>();

  constructor(
    private readonly deps: {
      fanout: MessageFanout;
      stream: MessageStream;
      logger: Logger;
      metrics?: Pick<RealtimeMetrics, 'delivered'>;
      /** Tests shorten it; 1 s otherwise. */
      retryReadMs?: number;
    },
  ) {}

  /** Starts delivering to a connection; resolves once its user's hints are subscribed. */
  async attach(tenantId: string, userId: string, connection: HubConnection): Promise<() => Promise<void>> {
    const key = `${tenantId}:${userId}`;
    let entry = this.#users.get(key);
    if (!entry) {
      const connections = new Set<HubConnection>();
      entry = {
        tenantId,
        userId,
        connections,
        unsubscribe: this.deps.fanout.subscribe(tenantId, userId, (hint) => {
          this.#onHint(tenantId, userId, connections, hint);
        }),
      };
      this.#users.set(key, entry);
    }
    entry.connections.add(connection);
    try {
      await entry.unsubscribe;
    } catch (error) {
      // The bus refused (Redis down): forget the failed subscription, so a later sign-in tries again.
      entry.connections.delete(connection);
      if (this.#users.get(key) === entry) this.#users.delete(key);
      throw error;
    }
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

  /**
   * The bus may have lost hints (Redis was away): every local connection reads, from the database, whatever
   * was committed after its position in each dialog it follows. Without this, what was committed while the
   * hints were lost would reach a connected client only with the next change of its dialog — in a quiet
   * dialog, never.
   */
  catchUp(): void {
    for (const { tenantId, userId, connections } of this.#users.values()) {
      for (const connection of connections)
        for (const [dialogId, seq] of connection.positions())
          this.#enqueue(tenantId, userId, dialogId, connection, seq);
      this.#schedule(tenantId);
    }
  }

  #onHint(tenantId: string, userId: string, connections: Set<HubConnection>, hint: UserHint): void {
    if (hint.kind !== 'seq') {
      for (const connection of connections) connection.signal(hint);
      return;
    }
    for (const connection of connections) {
      const known = connection.position(hint.dialogId);
      if (known !== undefined && known >= hint.seq) continue;
      // A connection that has not seen the dialog starts at the first change announced.
      this.#enqueue(tenantId, userId, hint.dialogId, connection, known ?? (hint.from ?? hint.seq) - 1);
    }
    this.#schedule(tenantId);
  }

  /** Adds the connection to the dialog's next read, from `start` (or from where it already waits, if earlier). */
  #enqueue(
    tenantId: string,
    userId: string,
    dialogId: string,
    connection: HubConnection,
    start: number,
  ): void {
    const batch = batchOf(this.#pending, tenantId, dialogId);
    batch.starts.set(connection, Math.min(start, batch.starts.get(connection) ?? start));
    batch.readers.add(userId);
  }

  /**
   * A read failed (the database is away): its sockets were handed nothing, and without a retry they would
   * wait for the dialog's next hint — in a quiet dialog, for ever. Read them again later, those still attached.
   */
  #retryLater(tenantId: string, batches: readonly Batch[]): void {
    const first = !this.#retrying.has(tenantId);
    for (const batch of batches) mergeInto(batchOf(this.#retrying, tenantId, batch.dialogId), batch);
    if (!first) return;
    setTimeout(() => {
      const due = this.#retrying.get(tenantId);
      this.#retrying.delete(tenantId);
      if (!due) return;
      const attached = new Set([...this.#users.values()].flatMap((entry) => [...entry.connections]));
      for (const batch of due.values()) {
        for (const connection of batch.starts.keys())
          if (!attached.has(connection)) batch.starts.delete(connection);
        mergeInto(batchOf(this.#pending, tenantId, batch.dialogId), batch);
      }
      this.#schedule(tenantId);
    }, this.deps.retryReadMs ?? RETRY_READ_MS).unref();
  }

  #schedule(tenantId: string): void {
    if (this.#reading.has(tenantId)) return;
    this.#reading.add(tenantId);
    // The end of this turn: hints published together (a group send, a commit batch) are read together.
    setImmediate(() => void this.#readLoop(tenantId));
  }

  async #readLoop(tenantId: string): Promise<void> {
    try {
      for (;;) {
        const dialogs = this.#pending.get(tenantId);
        this.#pending.delete(tenantId);
        if (!dialogs) break;
        const batches = [...dialogs.values()].filter((batch) => batch.starts.size > 0);
        for (let index = 0; index < batches.length; index += DIALOGS_PER_READ)
          await this.#read(tenantId, batches.slice(index, index + DIALOGS_PER_READ));
      }
    } catch (error) {
      this.deps.logger.error({ err: error }, 'realtime delivery failed');
    } finally {
      // Never leave the tenant marked as reading: its deliveries would stop for good.
      this.#reading.delete(tenantId);
      if (this.#pending.has(tenantId)) this.#schedule(tenantId);
    }
  }

  /** Reads the batches' dialogs page by page until each is caught up, handing every page to its sockets. */
  async #read(tenantId: string, batches: Batch[]): Promise<void> {
    let reads = batches.map((batch) => ({ batch, after: Math.min(...batch.starts.values()) }));
    try {
      while (reads.length > 0) {
        const pages = await this.deps.stream.sharedMany(
          tenantId,
          reads.map(({ batch, after }) => ({
            dialogId: batch.dialogId,
            after,
            readerIds: [...batch.readers],
          })),
          PAGE,
        );
        const next: typeof reads = [];
        this.#observeDelivery(pages);
        for (const { batch, after } of reads) {
          const page = pages.get(batch.dialogId);
          if (!page) continue;
          for (const [connection, start] of batch.starts)
            connection.deliverShared(batch.dialogId, page, after, start);
          if (page.more && page.upTo > after) next.push({ batch, after: page.upTo });
        }
        reads = next;
      }
    } catch (error) {
      this.deps.logger.error({ err: error }, 'realtime delivery read failed');
      this.#retryLater(
        tenantId,
        reads.map(({ batch }) => batch),
      );
    }
  }

  /** Commit→delivery latency: once per new message and node (not per socket), from its commit time. */
  #observeDelivery(pages: Map<string, SharedStreamPage>): void {
    const metrics = this.deps.metrics;
    if (!metrics) return;
    const now = Date.now();
    for (const page of pages.values())
      for (const { item } of page.items)
        if (item.type === 'message.new') metrics.delivered((now - Date.parse(item.message.createdAt)) / 1000);
  }
}

/** The batch of `dialogId` in a tenant's map of batches, made empty if there is none yet. */
function batchOf(byTenant: Map<string, Map<string, Batch>>, tenantId: string, dialogId: string): Batch {
  let dialogs = byTenant.get(tenantId);
  if (!dialogs) {
    dialogs = new Map();
    byTenant.set(tenantId, dialogs);
  }
  let batch = dialogs.get(dialogId);
  if (!batch) {
    batch = { dialogId, starts: new Map(), readers: new Set() };
    dialogs.set(dialogId, batch);
  }
  return batch;
}

/** Adds `from`'s connections (each from the earlier of the two starts) and readers to `into`. */
function mergeInto(into: Batch, from: Batch): void {
  for (const [connection, start] of from.starts)
    into.starts.set(connection, Math.min(start, into.starts.get(connection) ?? start));
  for (const reader of from.readers) into.readers.add(reader);
}
