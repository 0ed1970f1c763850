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
  resolve(value: R): void;
  reject(error: unknown): void;
}

/**
 * Group commit: work submitted while a tenant's batch is running waits for that batch to commit and then goes
 * together in the next one, so many concurrent callers share one transaction (and one flush to disk). Batches
 * of one tenant run one after another; when the tenant is idle, work starts at the end of the current
 * event-loop turn (no timer). Every caller learns its own outcome only after its batch committed. If a batch
 * fails as a whole, each of its pieces is retried alone, so one poisoned piece fails only its own caller.
 */
export function createCommitBatcher<I, R>(options: CommitBatcherOptions<I, R>) {
  const { maxBatch, commit } = options;
  /** Work waiting per tenant; a tenant has an entry exactly while its drain loop runs. */
  const queues = new Map<string, Job<I, R>[]>();

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

  async function drain(tenantId: string, queue: Job<I, R>[]): Promise<void> {
    try {
      while (queue.length > 0) {
        await endOfTurn();
        await run(tenantId, queue.splice(0, maxBatch));
      }
    } catch (error) {
      // `run` settles its own jobs; this is only so that nothing queued can be left waiting forever.
      for (const job of queue.splice(0)) job.reject(error);
    } finally {
      queues.delete(tenantId);
    }
  }

  return {
    /** Resolves with this input's value after the batch carrying it committed; rejects with its own error. */
    submit(tenantId: string, input: I): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        const queued = queues.get(tenantId);
        if (queued) {
          queued.push({ input, resolve, reject });
          return;
        }
        const queue = [{ input, resolve, reject }];
        queues.set(tenantId, queue);
        void drain(tenantId, queue);
      });
    },
  };
}

export type CommitBatcher<I, R> = ReturnType<typeof createCommitBatcher<I, R>>;
