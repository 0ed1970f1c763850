import type { Clock } from '../../clock.ts';
import type { AccessKind, AccessRead, AccessReader } from './access-record.ts';

/** A read waiting for the next flush; realtime deliveries to one session in one dialog extend `toSeq`. */
export interface PendingAccess {
  kind: AccessKind;
  reader: AccessReader;
  dialogId: string | null;
  fromSeq: number | null;
  toSeq: number | null;
  fileId: string | null;
  firstReadAt: number;
  lastReadAt: number;
}

export interface AccessRecorderDeps {
  clock: Clock;
  /** Whether the tenant records reads now (its setting, or the HIPAA preset). */
  isEnabled: (tenantId: string) => Promise<boolean>;
  /** Writes one tenant's pending reads in one transaction, chained (AccessLogService.writeBatch). */
  writeBatch: (tenantId: string, reads: readonly PendingAccess[]) => Promise<void>;
  /** A flush that failed; its reads are kept for the next flush (up to `maxPending`). */
  onError: (error: unknown, tenantId: string, dropped: number) => void;
  /** Milliseconds between flushes (default 1000): what a crash can lose at most. */
  intervalMs?: number | undefined;
  /** Pending reads that start a flush at once (default 2000). */
  flushAt?: number | undefined;
  /** Reads kept per tenant while its flushes fail; older ones are dropped past it (default 100,000). */
  maxPending?: number | undefined;
}

/** How long a tenant's answer of `isEnabled` is trusted on the hot path: one flush interval. */
const DEFAULT_INTERVAL_MS = 1000;

/**
 * Who read what, gathered in memory on this node and written in batches (docs/compliance.md "Access log"):
 * recording a read is a few map operations, never a database write, so realtime delivery pays next to
 * nothing. Every `intervalMs` (or at `flushAt` pending reads) each tenant's reads go out in one transaction
 * with one audit chain entry. Realtime deliveries to one session in one dialog coalesce into one read of a
 * sequence range until the next flush. On shutdown `close` flushes what is pending.
 *
 * What a crash (not a shutdown) can lose: the reads of the last flush interval, at most `intervalMs` (1 s by
 * default) plus a flush still being written — the delivery itself is not held back for its record.
 *
 * Whether a tenant records is asked at most once per interval per tenant; until the first answer reads are
 * kept, and a tenant found not recording at flush time has its reads dropped. A setting change therefore
 * takes effect within one interval on every node.
 */
export class AccessRecorder {
  readonly #deps: AccessRecorderDeps;
  readonly #intervalMs: number;
  readonly #flushAt: number;
  readonly #maxPending: number;
  /** tenant → reads in the order they began. */
  #pending = new Map<string, PendingAccess[]>();
  /** tenant, session, dialog → the realtime read that later deliveries extend (until the next flush). */
  #open = new Map<string, PendingAccess>();
  #count = 0;
  readonly #enabled = new Map<string, { on: boolean; at: number }>();
  readonly #asking = new Set<string>();
  #flushing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(deps: AccessRecorderDeps) {
    this.#deps = deps;
    this.#intervalMs = deps.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#flushAt = deps.flushAt ?? 2000;
    this.#maxPending = deps.maxPending ?? 100_000;
  }

  /** Starts the flush timer (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => {
      void this.flush();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /** A read over REST or of an export: one record. */
  record(read: AccessRead): void {
    if (this.#skips(read.tenantId)) return;
    const now = this.#deps.clock.now();
    this.#add(read.tenantId, {
      kind: read.kind,
      reader: read.reader,
      dialogId: read.dialogId ?? null,
      fromSeq: read.fromSeq ?? null,
      toSeq: read.toSeq ?? null,
      fileId: read.fileId ?? null,
      firstReadAt: now,
      lastReadAt: now,
    });
  }

  /**
   * Realtime changes `fromSeq`..`toSeq` of a dialog written to one session's socket: extends that session's
   * open range in the dialog when it follows it, else opens a new one. The hot path: no I/O.
   */
  delivered(tenantId: string, reader: AccessReader, dialogId: string, fromSeq: number, toSeq: number): void {
    if (this.#skips(tenantId)) return;
    const now = this.#deps.clock.now();
    const key = `${tenantId}\u0000${reader.sessionId ?? ''}\u0000${dialogId}`;
    const open = this.#open.get(key);
    if (open && open.toSeq !== null && fromSeq > open.toSeq) {
      open.toSeq = toSeq;
      open.lastReadAt = now;
      return;
    }
    const read: PendingAccess = {
      kind: 'realtime',
      reader,
      dialogId,
      fromSeq,
      toSeq,
      fileId: null,
      firstReadAt: now,
      lastReadAt: now,
    };
    this.#open.set(key, read);
    this.#add(tenantId, read);
  }

  /** Writes every pending read now (one transaction per tenant); concurrent calls run one after another. */
  flush(): Promise<void> {
    const run = this.#flushing.then(() => this.#flushOnce());
    this.#flushing = run.catch(() => undefined);
    return run;
  }

  /** Stops the timer and flushes what is pending: called on shutdown, before the database closes. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** Reads waiting for a flush, over every tenant. */
  get pending(): number {
    return this.#count;
  }

  /** True when the tenant is known not to record (answer younger than one interval). */
  #skips(tenantId: string): boolean {
    const known = this.#enabled.get(tenantId);
    if (known && this.#deps.clock.now() - known.at < this.#intervalMs) return !known.on;
    this.#ask(tenantId);
    return false;
  }

  #ask(tenantId: string): void {
    if (this.#asking.has(tenantId)) return;
    this.#asking.add(tenantId);
    this.#deps
      .isEnabled(tenantId)
      .then(
        (on) => {
          this.#enabled.set(tenantId, { on, at: this.#deps.clock.now() });
        },
        () => undefined, // asked again at flush time
      )
      .finally(() => this.#asking.delete(tenantId));
  }

  /**
   * Whether the tenant records, for a flush: the answer the hot path already has when it is fresh (so a
   * tenant that does not record costs the database nothing at flush time), else asked now.
   */
  async #records(tenantId: string): Promise<boolean> {
    const known = this.#enabled.get(tenantId);
    if (known && this.#deps.clock.now() - known.at < this.#intervalMs) return known.on;
    const on = await this.#deps.isEnabled(tenantId);
    this.#enabled.set(tenantId, { on, at: this.#deps.clock.now() });
    return on;
  }

  #add(tenantId: string, read: PendingAccess): void {
    let list = this.#pending.get(tenantId);
    if (!list) this.#pending.set(tenantId, (list = []));
    list.push(read);
    this.#count += 1;
    if (this.#count >= this.#flushAt) void this.flush();
  }

  async #flushOnce(): Promise<void> {
    if (this.#count === 0) return;
    const pending = this.#pending;
    this.#pending = new Map();
    this.#open = new Map();
    this.#count = 0;
    for (const [tenantId, reads] of pending) {
      try {
        if (await this.#records(tenantId)) await this.#deps.writeBatch(tenantId, reads);
      } catch (error) {
        this.#keep(tenantId, reads, error);
      }
    }
  }

  /** Puts a failed tenant's reads back in front of newer ones, within `maxPending`. */
  #keep(tenantId: string, reads: PendingAccess[], error: unknown): void {
    const newer = this.#pending.get(tenantId) ?? [];
    const all = [...reads, ...newer];
    const dropped = Math.max(0, all.length - this.#maxPending);
    const kept = all.slice(dropped);
    this.#pending.set(tenantId, kept);
    this.#count += kept.length - newer.length;
    this.#deps.onError(error, tenantId, dropped);
  }
}
