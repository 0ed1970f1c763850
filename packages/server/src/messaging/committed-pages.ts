import type {
  MessageStream,
  SharedItem,
  SharedRead,
  SharedStreamPage,
  StreamViewer,
} from './message-stream.ts';

/** One run of a dialog's stream this node committed: every change in (`after`, `upTo`], nothing missing. */
interface CommittedRun {
  after: number;
  upTo: number;
  items: SharedItem[];
  /** The dialog's readers when the run committed (its active members), with their view. */
  viewers: ReadonlyMap<string, StreamViewer>;
}

export interface CommittedPagesOptions {
  /** The most runs kept for all tenants; the oldest go first. */
  maxRuns: number;
}

/**
 * The changes this node has just committed, kept briefly so its own realtime delivery can hand them out
 * without reading them back from the database: after a send batch commits, the node already holds the
 * messages (as their senders wrote them) and the dialogs' readers (the active members it locked and read).
 * Only a contiguous chain of runs from a reader's position is served from here; any gap — a change another
 * node committed, an event this node did not record, a run already evicted — sends that read to the
 * database, where every change is. Other nodes always read the database: the bus never carries content.
 *
 * What a reader sees is the change as committed: an edit or deletion that follows is its own change, with
 * its own sequence number, delivered after it (the database read shows the same race between a commit and
 * a read). The plaintext is held for as long as a socket takes to be written to, and at most `maxRuns` runs.
 */
export class CommittedPages {
  /** Per tenant and dialog, runs in sequence order; the outer map's insertion order is the eviction order. */
  readonly #runs = new Map<string, CommittedRun[]>();
  #count = 0;

  constructor(private readonly options: CommittedPagesOptions) {}

  /** Records a run just committed; `items` in sequence order, covering exactly (`after`, `upTo`]. */
  record(tenantId: string, dialogId: string, run: CommittedRun): void {
    const key = `${tenantId}\n${dialogId}`;
    const runs = this.#runs.get(key) ?? [];
    // A run that does not follow the last one leaves a gap behind it: what came before can never chain.
    const last = runs.at(-1);
    const kept = last === undefined || last.upTo === run.after ? runs : [];
    this.#count -= runs.length - kept.length;
    // Runs with the same readers share one map, so chaining them compares a reference, not every reader.
    const previous = kept.at(-1);
    if (previous && sameViewers(previous.viewers, run.viewers)) run.viewers = previous.viewers;
    kept.push(run);
    this.#count += 1;
    this.#runs.delete(key);
    this.#runs.set(key, kept);
    while (this.#count > this.options.maxRuns) this.#evictOldest();
  }

  #evictOldest(): void {
    const oldest = this.#runs.entries().next().value;
    if (oldest === undefined) return;
    const [key, runs] = oldest;
    runs.shift();
    this.#count -= 1;
    if (runs.length === 0) this.#runs.delete(key);
  }

  /**
   * The page above `read.after` as far as recorded runs chain without a gap and with the same readers, or
   * undefined when the first change above `after` is not here or a reader is not among the run's viewers.
   */
  page(tenantId: string, read: SharedRead, limit: number): SharedStreamPage | undefined {
    const runs = this.#runs.get(`${tenantId}\n${read.dialogId}`);
    if (!runs) return undefined;
    const start = runHolding(runs, read.after);
    const first = runs[start];
    if (!first || !read.readerIds.every((id) => first.viewers.has(id))) return undefined;
    const items: SharedItem[] = [];
    let upTo = read.after;
    let more = false;
    // The kept runs of a dialog follow each other without a gap (see `record`).
    for (let index = start; index < runs.length && !more; index += 1) {
      const run = runs[index];
      if (!run || run.viewers !== first.viewers) break;
      for (const entry of run.items) {
        if (entry.item.seq <= read.after) continue;
        if (items.length === limit) {
          more = true;
          break;
        }
        items.push(entry);
        upTo = entry.item.seq;
      }
      if (!more) upTo = run.upTo;
    }
    const viewers = new Map<string, StreamViewer>();
    for (const id of read.readerIds) {
      const viewer = first.viewers.get(id);
      if (viewer) viewers.set(id, { floor: viewer.floor, hidden: new Set() });
    }
    // Past the last run, later changes (if any) were announced by hints of their own, which read again.
    return { items, upTo, more, viewers };
  }
}

/** The index of the run whose range holds the position just above `after`, or -1 (binary search). */
function runHolding(runs: readonly CommittedRun[], after: number): number {
  let low = 0;
  let high = runs.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const run = runs[middle];
    if (!run) return -1;
    if (after < run.after) high = middle - 1;
    else if (after >= run.upTo) low = middle + 1;
    else return middle;
  }
  return -1;
}

function sameViewers(a: ReadonlyMap<string, StreamViewer>, b: ReadonlyMap<string, StreamViewer>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, viewer] of a) if (b.get(id)?.floor !== viewer.floor) return false;
  return true;
}

/**
 * The stream as the realtime hub reads it: recorded runs first, the database for every read they cannot
 * answer whole. Readers' own catch-up reads (`after`) always go to the database.
 */
export function withCommittedPages(stream: MessageStream, pages: CommittedPages): MessageStream {
  return {
    ...stream,
    async sharedMany(tenantId, reads, limit) {
      const answered = new Map<string, SharedStreamPage>();
      const misses: SharedRead[] = [];
      for (const read of reads) {
        const page = pages.page(tenantId, read, limit);
        if (page) answered.set(read.dialogId, page);
        else misses.push(read);
      }
      if (misses.length === 0) return answered;
      for (const [dialogId, page] of await stream.sharedMany(tenantId, misses, limit))
        answered.set(dialogId, page);
      return answered;
    },
  };
}
