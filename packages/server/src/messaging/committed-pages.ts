import type { SharedItem } from './message-stream.ts';

/** One run of a dialog's stream this node committed: every change in (`after`, `upTo`], nothing missing. */
export interface CommittedRun {
  after: number;
  upTo: number;
  /** In sequence order. */
  items: SharedItem[];
}

/** The part of a dialog's stream above a position that recorded runs cover. */
export interface CommittedPage {
  items: SharedItem[];
  upTo: number;
  /** True when the read's limit cut the page: more recorded changes follow. */
  more: boolean;
  /**
   * Where the recorded chain ends, past the limit too. Only when that is the dialog's newest change is
   * every message on the page as it is now (no later edit or deletion can have changed it).
   */
  reach: number;
}

export interface CommittedPagesOptions {
  /** The most runs kept for all tenants; the oldest go first. */
  maxRuns: number;
}

/**
 * The changes this node has just committed, kept briefly so its own stream reads need not read them back
 * from the database: after a send batch commits, the node already holds the messages as their senders wrote
 * them. Only a contiguous chain of runs from a reader's position to the dialog's newest change is served
 * from here (the stream checks the newest against the dialog row it reads); any gap — a change another node
 * committed, an edit, deletion or reaction (not recorded), a message with attachments (which can be removed
 * without a sequenced change; not recorded), a run already evicted — sends that read to the database. Who may see what is never taken from here: the stream reads
 * the readers' memberships and "deleted for me" sets from the database for these items too.
 *
 * Because the chain must reach the dialog's newest change, no later edit or deletion can have changed what it
 * holds: a reader gets each message as it is now, as from the database. Messages are held in the clear for
 * as long as their run is among the last `maxRuns`.
 */
export class CommittedPages {
  /** Per tenant and dialog, runs in sequence order; the outer map's insertion order is the eviction order. */
  readonly #runs = new Map<string, CommittedRun[]>();
  #count = 0;

  constructor(private readonly options: CommittedPagesOptions) {}

  /** Records a run just committed (after its commit, before its changes are announced). */
  record(tenantId: string, dialogId: string, run: CommittedRun): void {
    const key = `${tenantId}\n${dialogId}`;
    const runs = this.#runs.get(key) ?? [];
    // A run that does not follow the last one leaves a gap behind it: what came before can never chain.
    const last = runs.at(-1);
    const kept = last === undefined || last.upTo === run.after ? runs : [];
    this.#count -= runs.length - kept.length;
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
   * The dialog's changes above `after` as far as recorded runs reach (at most `limit`), or undefined when the
   * change right above `after` is not recorded.
   */
  page(tenantId: string, dialogId: string, after: number, limit: number): CommittedPage | undefined {
    const runs = this.#runs.get(`${tenantId}\n${dialogId}`);
    if (!runs) return undefined;
    const start = runHolding(runs, after);
    if (start < 0) return undefined;
    const reach = runs.at(-1)?.upTo ?? after;
    const items: SharedItem[] = [];
    let upTo = after;
    // The kept runs of a dialog follow each other without a gap (see `record`).
    for (const run of runs.slice(start)) {
      for (const entry of run.items) {
        if (entry.item.seq <= after) continue;
        if (items.length === limit) return { items, upTo, more: true, reach };
        items.push(entry);
        upTo = entry.item.seq;
      }
      upTo = run.upTo;
    }
    return { items, upTo, more: false, reach };
  }
}

/** The index of the run whose range holds the change right above `after`, or -1 (binary search). */
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
