/** What one piece of work in a batch came to: its value, or the error only its own caller sees. */
export type BatchOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface CommitBatcherOptions<I, R> {
  /** The most pieces of work one batch (one transaction) carries. */
  maxBatch: number;
  /**
   * Runs `inputs` in ONE transaction of `tenantId` and resolves, after it committed, with one outcome per
   * input, in the same order. Throws when the transaction as a whole failed: then nothing of it committed.
   */
  commit: (tenantId: string, inputs: readonly I[]) => Promise<BatchOutcome<R>[]>;
  /**
   * What a piece of work must be ordered with (a send's dialog). Work of one key runs in submission order, in
   * one batch at a time; batches of a tenant whose keys are disjoint may run at once (up to `maxInFlight`).
   * Absent: every piece shares one key, and the tenant's batches run one after another.
   */
  keyOf?: (input: I) => string;
  /** How many batches of one tenant may be committing at once (default 1). */
  maxInFlight?: number;
  /**
   * When a batch starts beside others (with `maxInFlight` above 1): once this much work waits, or once the
   * batches in flight have run `overlapAfterMs`. Below both, work keeps gathering for the next batch: a
   * transaction per handful of sends costs the database more than the wait saves (measured, issue 11).
   */
  overlap?: { minWaiting: number; afterMs: number };
}

/**
 * Resolves after the I/O callbacks of the current event-loop turn ran (`setImmediate`, not a timer): every
 * request that arrived meanwhile — on other sockets, or while the previous batch waited for its commit — has
 * submitted its work by then and joins the batch. Without it, a synchronous driver (better-sqlite3 runs a
 * whole transaction without yielding to I/O) would commit every piece alone.
 */
const endOfTurn = () =>
  new Promise<void>((resolve) => {
    setImmediate(resolve);
  });

interface Job<I, R> {
  input: I;
  key: string;
  resolve(value: R): void;
  reject(error: unknown): void;
}

/** A tenant's waiting work and its batches in flight; an entry exists while either is non-empty. */
interface TenantLane<I, R> {
  queue: Job<I, R>[];
  /** Keys of the batches committing now: work of these keys waits for its batch to commit. */
  busy: Set<string>;
  inFlight: number;
  /** A pump is scheduled for the end of the current turn. */
  pumping: boolean;
  /** When the oldest batch in flight started (ms, monotonic), for `overlap.afterMs`. */
  startedAt: number[];
  /** A pump is scheduled for when the batches in flight will have run `overlap.afterMs`. */
  overlapTimer: NodeJS.Timeout | undefined;
}

/**
 * Group commit: work submitted while a tenant's batches are running waits for them and then goes together in
 * the next one, so many concurrent callers share one transaction (and one flush to disk). Work of one key
 * (`keyOf`) runs in submission order and in one batch at a time; with `maxInFlight` above 1, batches of
 * disjoint keys commit at once, so a database that commits in parallel (PostgreSQL: a send batch locks only
 * its own dialogs) is not held to one commit round trip at a time. Work starts at the end of the current
 * event-loop turn (no timer). Every caller learns its own outcome only after its batch committed. If a batch
 * fails as a whole, each of its pieces is retried alone, so one poisoned piece fails only its own caller.
 */
export function createCommitBatcher<I, R>(options: CommitBatcherOptions<I, R>) {
  const { maxBatch, commit, keyOf = () => '', maxInFlight = 1 } = options;
  const overlap = options.overlap ?? { minWaiting: 1, afterMs: 0 };
  const lanes = new Map<string, TenantLane<I, R>>();

  async function run(tenantId: string, jobs: Job<I, R>[]): Promise<void> {
    let outcomes: BatchOutcome<R>[];
    try {
      outcomes = await commit(
        tenantId,
        jobs.map((job) => job.input),
      );
    } catch (error) {
      if (jobs.length === 1) {
        jobs[0]?.reject(error);
        return;
      }
      // Nothing of the batch committed. Alone, each piece commits or fails on its own merits.
      for (const job of jobs) await run(tenantId, [job]);
      return;
    }
    jobs.forEach((job, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined) job.reject(new Error('commit batch returned no outcome for a job'));
      else if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    });
  }

  /**
   * The next batch: waiting work in submission order whose key is not committing now. Once a piece is left
   * waiting, every later piece of its key waits too, so no key's work can overtake itself.
   */
  function takeBatch(lane: TenantLane<I, R>): Job<I, R>[] {
    const batch: Job<I, R>[] = [];
    const held = new Set(lane.busy);
    const keys = new Set<string>();
    const left: Job<I, R>[] = [];
    for (const job of lane.queue) {
      if (batch.length < maxBatch && !held.has(job.key)) {
        batch.push(job);
        keys.add(job.key);
      } else {
        held.add(job.key);
        left.push(job);
      }
    }
    lane.queue = left;
    for (const key of keys) lane.busy.add(key);
    return batch;
  }

  /** Whether a batch may start beside those in flight now; if not yet, a pump is set for when it may. */
  function mayOverlap(tenantId: string, lane: TenantLane<I, R>): boolean {
    if (lane.inFlight === 0 || lane.queue.length >= overlap.minWaiting) return true;
    const waited = performance.now() - (lane.startedAt[0] ?? 0);
    if (waited >= overlap.afterMs) return true;
    lane.overlapTimer ??= setTimeout(() => {
      lane.overlapTimer = undefined;
      pump(tenantId, lane);
    }, overlap.afterMs - waited);
    return false;
  }

  function pump(tenantId: string, lane: TenantLane<I, R>): void {
    while (lane.inFlight < maxInFlight && lane.queue.length > 0 && mayOverlap(tenantId, lane)) {
      const batch = takeBatch(lane);
      if (batch.length === 0) break;
      lane.inFlight += 1;
      const startedAt = performance.now();
      lane.startedAt.push(startedAt);
      run(tenantId, batch)
        .catch((error: unknown) => {
          // `run` settles its own jobs; this is only so that none of them can be left waiting forever.
          for (const job of batch) job.reject(error);
        })
        .finally(() => {
          lane.inFlight -= 1;
          lane.startedAt.splice(lane.startedAt.indexOf(startedAt), 1);
          for (const job of batch) lane.busy.delete(job.key);
          schedule(tenantId, lane);
        });
    }
    // Only this lane: a pump scheduled for a lane that emptied may run after a new lane replaced it.
    if (lane.inFlight === 0 && lane.queue.length === 0) {
      clearTimeout(lane.overlapTimer);
      lane.overlapTimer = undefined;
      if (lanes.get(tenantId) === lane) lanes.delete(tenantId);
    }
  }

  /** Pumps at the end of this turn, so that work arriving meanwhile joins the batch. */
  function schedule(tenantId: string, lane: TenantLane<I, R>): void {
    if (lane.pumping) return;
    lane.pumping = true;
    void endOfTurn().then(() => {
      lane.pumping = false;
      pump(tenantId, lane);
    });
  }

  return {
    /** Resolves with this input's value after the batch carrying it committed; rejects with its own error. */
    submit(tenantId: string, input: I): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        let lane = lanes.get(tenantId);
        if (!lane) {
          lane = {
            queue: [],
            busy: new Set(),
            inFlight: 0,
            pumping: false,
            startedAt: [],
            overlapTimer: undefined,
          };
          lanes.set(tenantId, lane);
        }
        lane.queue.push({ input, key: keyOf(input), resolve, reject });
        if (lane.inFlight < maxInFlight) schedule(tenantId, lane);
      });
    },
  };
}

export type CommitBatcher<I, R> = ReturnType<typeof createCommitBatcher<I, R>>;
