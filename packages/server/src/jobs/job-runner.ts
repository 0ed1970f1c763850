import type { Clock } from '../clock.ts';
import type { Logger } from '../observability/logger.ts';
import type { Storage, SystemTx, TenantTx } from '../storage/database.ts';
import { type JobContext, type JobDefinition, JOB_KIND } from './job-definition.ts';
import {
  type InterruptReason,
  Interrupted,
  interruptionOf,
  JobError,
  recordedError,
  JobDeferred,
} from './job-error.ts';
import { endsWithin } from './grace-period.ts';
import { type JobClaim, type JobRecord, jobStore } from './job-store.ts';

export interface JobRunnerOptions {
  storage: Storage;
  clock: Clock;
  /** Names this node in `locked_by`; unique among the nodes sharing the database. */
  nodeId: string;
  logger: Logger;
  /** A claim lapses this long after its last heartbeat; then another node runs the job again. */
  lockMs: number;
  /** How often a running job's claim is renewed (checked at every tick); under half of `lockMs`. */
  heartbeatMs: number;
  /** Jobs this node runs at once. */
  concurrency: number;
  /** Retry delay after a failed attempt: `baseMs` doubled per attempt, at most `maxMs`. */
  backoff?: { baseMs: number; maxMs: number };
}

interface ActiveJob {
  readonly claim: JobClaim;
  readonly controller: AbortController;
  renewedAt: number;
  lockedUntil: number;
  cancelRequested: boolean;
  done: Promise<void>;
}

// Method syntax in JobDefinition makes any definition assignable here; payloads are checked at run time.
type AnyDefinition = JobDefinition<unknown, unknown>;

const DEFAULT_BACKOFF = { baseMs: 10_000, maxMs: 3_600_000 };

/**
 * Runs durable jobs (rows of `jobs`) of the registered kinds. At every tick it renews the claims of the jobs
 * it runs (seeing cancellations on the way), fails jobs whose node died on their last attempt, and claims due
 * jobs up to its concurrency. A failed attempt is retried with exponential backoff until `maxAttempts`; what
 * is recorded is an error code and a short message, never a stack. On stop, running handlers are told
 * (`stopping`) and awaited; one that gives up hands its job back, to resume from its checkpoint.
 */
export function createJobRunner(options: JobRunnerOptions) {
  const { storage, clock, nodeId, logger, lockMs, heartbeatMs, concurrency } = options;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  if (!(heartbeatMs > 0 && heartbeatMs * 2 < lockMs))
    throw new RangeError('the heartbeat must come more than twice per lock');
  const definitions = new Map<string, AnyDefinition>();
  const active = new Map<string, ActiveJob>();
  let ticking: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const isStopped = () => stopped;

  async function renewClaims(): Promise<void> {
    for (const job of active.values()) {
      const now = clock.now();
      if (now - job.renewedAt < heartbeatMs || job.controller.signal.aborted) continue;
      const until = now + lockMs;
      const renewed = await storage
        .withSystem((tx) => jobStore.heartbeat(tx, job.claim, until, now))
        .catch((error: unknown) => {
          logger.warn({ jobId: job.claim.id, err: error }, 'could not renew a job claim');
          return 'unknown' as const;
        });
      if (renewed === 'unknown' && now < job.lockedUntil) continue;
      if (renewed === undefined || renewed === 'unknown') {
        logger.warn({ jobId: job.claim.id }, 'job claim lost; interrupting its handler');
        job.controller.abort(new Interrupted('lost'));
        continue;
      }
      job.renewedAt = now;
      job.lockedUntil = until;
      if (renewed) markCancelled(job);
    }
  }

  function markCancelled(job: ActiveJob): void {
    job.cancelRequested = true;
    if (!job.controller.signal.aborted) job.controller.abort(new Interrupted('cancelled'));
  }

  function contextFor(
    definition: AnyDefinition,
    record: JobRecord,
    job: ActiveJob,
  ): JobContext<unknown, unknown> {
    return {
      job: {
        id: record.id,
        kind: record.kind,
        tenantId: record.tenantId,
        attempt: record.attempts,
        payload: definition.payload.parse(record.payload),
        progress: record.progress === undefined ? undefined : definition.progress.parse(record.progress),
        requestedBy: record.requestedBy,
      },
      signal: job.controller.signal,
      isCancelled: () => job.cancelRequested,
      checkpoint: async (progress: unknown, tx?: SystemTx | TenantTx) => {
        const checked = definition.progress.parse(progress);
        const now = clock.now();
        const until = now + lockMs;
        const write = (t: SystemTx | TenantTx) => jobStore.checkpoint(t, job.claim, checked, until, now);
        const result = tx === undefined ? await storage.withSystem(write) : await write(tx);
        if (result === undefined) {
          job.controller.abort(new Interrupted('lost'));
          throw new Interrupted('lost');
        }
        job.renewedAt = now;
        job.lockedUntil = until;
        if (result) markCancelled(job);
      },
    };
  }

  async function settleAfterError(record: JobRecord, job: ActiveJob, error: unknown): Promise<void> {
    const { claim } = job;
    const reason: InterruptReason | undefined =
      interruptionOf(job.controller.signal) ?? (error instanceof Interrupted ? error.reason : undefined);
    const now = clock.now();
    if (reason === 'lost') {
      logger.warn({ jobId: claim.id, kind: record.kind }, 'job abandoned here: its claim was lost');
      return;
    }
    if (reason === 'stopping' || reason === 'cancelled') {
      await settle(claim, reason === 'stopping' ? { state: 'released', now } : { state: 'cancelled', now });
      return;
    }
    if (error instanceof JobDeferred) {
      await settle(claim, {
        state: 'deferred',
        now,
        runAfter: error.until,
        errorCode: error.code,
        errorMessage: error.message,
      });
      return;
    }
    const { code, message } = recordedError(error);
    const last = claim.attempt >= record.maxAttempts;
    logger.error(
      { jobId: claim.id, kind: record.kind, attempt: claim.attempt, errorCode: code, err: error },
      last ? 'job failed on its last attempt' : 'job attempt failed; it will be retried',
    );
    const retryAt = now + Math.min(backoff.baseMs * 2 ** (claim.attempt - 1), backoff.maxMs);
    await settle(
      claim,
      last
        ? { state: 'failed', now, errorCode: code, errorMessage: message }
        : { state: 'queued', now, runAfter: retryAt, errorCode: code, errorMessage: message },
    );
  }

  async function settle(claim: JobClaim, outcome: Parameters<typeof jobStore.settle>[2]): Promise<void> {
    const settled = await storage.withSystem((tx) => jobStore.settle(tx, claim, outcome));
    if (!settled) logger.warn({ jobId: claim.id }, 'job claim lost before its outcome was recorded');
  }

  async function execute(definition: AnyDefinition, record: JobRecord, job: ActiveJob): Promise<void> {
    if (record.cancelRequested) {
      await settle(job.claim, { state: 'cancelled', now: clock.now() });
      return;
    }
    let context: JobContext<unknown, unknown>;
    try {
      context = contextFor(definition, record, job);
    } catch {
      // A payload or checkpoint its schema refuses will not get better with retries.
      const invalid = new JobError('invalid_job', 'the payload or checkpoint does not match its schema');
      await settle(job.claim, {
        state: 'failed',
        now: clock.now(),
        errorCode: invalid.code,
        errorMessage: invalid.message,
      });
      return;
    }
    try {
      await definition.run(context);
    } catch (error) {
      await settleAfterError(record, job, error);
      return;
    }
    // Outside the try: a failure to record success must not queue a finished job for a retry.
    await settle(job.claim, { state: 'succeeded', now: clock.now() });
  }

  function launch(record: JobRecord): void {
    const definition = definitions.get(record.kind);
    if (definition === undefined) return; // claimed only by registered kind, so never
    const now = clock.now();
    const job: ActiveJob = {
      claim: { id: record.id, nodeId, attempt: record.attempts },
      controller: new AbortController(),
      renewedAt: now,
      lockedUntil: record.lockedUntil ?? now + lockMs,
      cancelRequested: record.cancelRequested,
      done: Promise.resolve(),
    };
    active.set(record.id, job);
    job.done = execute(definition, record, job)
      .catch((error: unknown) => {
        logger.error({ jobId: record.id, err: error }, 'could not record a job outcome');
      })
      .finally(() => {
        active.delete(record.id);
      });
  }

  async function pass(): Promise<void> {
    await renewClaims();
    if (stopped || definitions.size === 0) return;
    const abandoned = await storage.withSystem((tx) => jobStore.failAbandoned(tx, clock.now()));
    for (const jobId of abandoned)
      logger.error({ jobId }, 'job failed: its node stopped answering during the last attempt');
    const kinds = [...definitions.keys()];
    // `stop` may come while this pass awaits: read the flag afresh each round.
    while (!isStopped() && active.size < concurrency) {
      const record = await storage.withSystem((tx) =>
        jobStore.claim(tx, { nodeId, kinds, now: clock.now(), lockMs }, storage.dialect),
      );
      if (record === undefined) break;
      launch(record);
    }
  }

  function tick(): Promise<void> {
    if (stopped) return Promise.resolve();
    ticking ??= pass().finally(() => {
      ticking = undefined;
    });
    return ticking;
  }

  return {
    /** Adds the handler of a job kind. Only registered kinds are claimed, so a node never takes a job it cannot run. */
    register<P, C>(definition: JobDefinition<P, C>): void {
      if (!JOB_KIND.test(definition.kind)) throw new TypeError(`invalid job kind "${definition.kind}"`);
      if (definitions.has(definition.kind))
        throw new TypeError(`job kind "${definition.kind}" is registered twice`);
      definitions.set(definition.kind, definition);
    },

    /** Renews claims, fails abandoned jobs, claims due ones; resolves once their handlers started. */
    tick,

    /** Ticks every `pollMs` until `stop`. */
    start(pollMs: number): void {
      if (stopped || timer !== undefined) return;
      const tickLogged = () => {
        tick().catch((error: unknown) => {
          logger.error({ err: error }, 'job runner tick failed');
        });
      };
      timer = setInterval(tickLogged, pollMs);
      timer.unref();
      tickLogged();
    },

    /**
     * Stops claiming, tells running handlers to stop (`stopping`) and waits up to `graceMs` for them. A
     * handler still running after that keeps its claim until it lapses; another node then resumes the job.
     */
    async stop(graceMs = Number.POSITIVE_INFINITY): Promise<void> {
      stopped = true;
      clearInterval(timer);
      await ticking?.catch(() => undefined);
      for (const job of active.values()) job.controller.abort(new Interrupted('stopping'));
      const ended = Promise.all([...active.values()].map((job) => job.done));
      if (!(await endsWithin(ended, graceMs)))
        logger.warn({ running: [...active.keys()] }, 'job handlers still running at shutdown');
    },

    /** Ids of the jobs running on this node now. */
    running(): string[] {
      return [...active.keys()];
    },

    /** Resolves when every job running on this node now has ended (for tests). */
    async settled(): Promise<void> {
      await Promise.all([...active.values()].map((job) => job.done));
    },
  };
}

export type JobRunner = ReturnType<typeof createJobRunner>;
