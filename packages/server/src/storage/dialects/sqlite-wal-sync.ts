import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Flushes a file's written data to stable storage (`fdatasync`); replaceable in tests to observe or delay it. */
export type FileSync = (file: FileHandle) => Promise<void>;

const datasync: FileSync = (file) => file.datasync();

/**
 * Group commit for SQLite's write-ahead log, off the event loop.
 *
 * With `synchronous = FULL` SQLite fsyncs the WAL inside every commit, and better-sqlite3 runs on the main
 * thread: each commit that wrote stalled every socket of the process for the length of an fsync (about a
 * millisecond here, 40 % of the event loop at a few hundred sends a second). With `synchronous = NORMAL`
 * the commit only writes the WAL; this class then fsyncs it on libuv's thread pool, and a transaction that
 * wrote is answered only once an fsync that began after its commit has finished — the guarantee FULL
 * gives, with the wait off the event loop and one fsync shared by every commit made meanwhile.
 *
 * SQLite itself still syncs around checkpoints under NORMAL (the WAL before one, the database after it,
 * the WAL header when the log is reused), so a checkpoint never moves frames that are not yet durable.
 */
export class WalSync {
  readonly #path: string;
  readonly #sync: FileSync;
  #file: Promise<FileHandle> | undefined;
  #inFlight: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(walPath: string, sync: FileSync = datasync) {
    this.#path = walPath;
    this.#sync = sync;
  }

  /** Resolves once an fsync of the WAL that began after this call has completed; rejects if it failed. */
  flushed(): Promise<void> {
    if (this.#inFlight === undefined) return this.#start();
    // The fsync under way may have begun before the caller's commit: the caller waits for the next one,
    // which every caller arriving meanwhile shares.
    this.#next ??= this.#inFlight
      .catch(() => undefined)
      .then(() => {
        this.#next = undefined;
        return this.#start();
      });
    return this.#next;
  }

  /** For writes outside a transaction (rare: maintenance statements): the same guarantee, synchronously. */
  flushNow(): void {
    const fd = openSync(this.#path, 'r');
    try {
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  async close(): Promise<void> {
    await this.#next?.catch(() => undefined);
    await this.#inFlight?.catch(() => undefined);
    const file = this.#file;
    this.#file = undefined;
    await file?.then((handle) => handle.close()).catch(() => undefined);
  }

  #start(): Promise<void> {
    const tracked: Promise<void> = this.#syncOnce().finally(() => {
      if (this.#inFlight === tracked) this.#inFlight = undefined;
    });
    this.#inFlight = tracked;
    return tracked;
  }

  async #syncOnce(): Promise<void> {
    this.#file ??= open(this.#path, 'r');
    let file: FileHandle;
    try {
      file = await this.#file;
    } catch (error) {
      this.#file = undefined; // opened again next time (the WAL is created by the first write)
      throw error;
    }
    await this.#sync(file);
  }
}
