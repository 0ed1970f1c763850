import { CronExpressionParser } from 'cron-parser';
import type { Clock } from '../clock.ts';
import type { Logger } from '../observability/logger.ts';
import type { Storage, SystemTx } from '../storage/database.ts';
import { endsWithin } from './grace-period.ts';
import { Interrupted, interruptionOf, recordedError } from './job-error.ts';
import { type LeaseGrant, leaseStore } from './lease-store.ts';
import { scheduleStore } from './schedule-store.ts';

/** What a scheduled task's run is given. */
export interface TaskContext {
  /**
   * Aborted with an `Interrupted` reason when this node stops (`stopping`) or its lease lapsed (`lost`);
   * long tasks check it between batches and throw it (`signal.throwIfAborted()`).
   */
  readonly signal: AbortSignal;
  /** The occurrence being run (the cron time it was due at), in milliseconds. */
  readonly scheduledFor: number;
  /**
   * Throws `Interrupted('lost')` unless this node still holds the task's lease. Call it inside the
   * transaction that commits the task's work, so work of a node that was replaced never commits.
   */
  fence(tx: SystemTx): Promise<void>;
}

/** A periodic task that runs once cluster-wide at each occurrence of its cron expression (UTC). */
export interface ScheduledTask {
  /** Unique; also names its lease (`task:<name>`) and its row in `scheduled_tasks`. */
  readonly name: string;
  /** Five fields (minute precision) or six (leading seconds), as `cron-parser` reads them. */
  readonly cron: string;
  run(context: TaskContext): Promise<void>;
  /** After a failed run, it is tried again this much later (or at its next occurrence, if sooner). */
  readonly retryDelayMs?: number;
}

export interface SchedulerOptions {
  storage: Storage;
  clock: Clock;
  /** Names this node as lease holder; unique among the nodes sharing the database. */
  nodeId: string;
  logger: Logger;
  /** A task's lease lapses this long after its holder last renewed it (the holder died). */
  leaseMs: number;
  /** How often a running task's lease is renewed (checked at every tick); under half of `leaseMs`. */
  heartbeatMs: number;
}

const DEFAULT_RETRY_DELAY_MS = 60_000;
const TASK_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;

interface Run {
  grant: LeaseGrant;
  readonly controller: AbortController;
  renewedAt: number;
  done: Promise<void>;
}

/** The next occurrence of `cron` strictly after `at`. */
export function nextOccurrence(cron: string, at: number): number {
  return CronExpressionParser.parse(cron, { currentDate: at, tz: 'UTC' }).next().getTime();
}

/**
 * Runs registered periodic tasks, each once cluster-wide: at every tick a node looks up which tasks are
 * due in `scheduled_tasks`, takes a due task's lease (one compare-and-set) and runs it; the others see the
 * lease held, or, once the run finished, the next occurrence planned. A task never overlaps itself: on this
 * node it is skipped while it runs, on others its lease is held (and renewed at every heartbeat) until it
 * ends. A node that dies stops renewing; after `leaseMs` another node takes the lease and runs the
 * occurrence again. A failed run is logged (error code only, plus the scrubbed error) and retried after
 * `retryDelayMs`. Nothing here sleeps: time is the injected clock's, and `start` only calls `tick` on a timer.
 */
export function createScheduler(options: SchedulerOptions) {
  const { storage, clock, nodeId, logger, leaseMs, heartbeatMs } = options;
  if (!(heartbeatMs > 0 && heartbeatMs * 2 < leaseMs))
    throw new RangeError('the heartbeat must come more than twice per lease');
  const tasks = new Map<string, ScheduledTask>();
  const running = new Map<string, Run>();
  let ticking: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function renewLeases(): Promise<void> {
    for (const [name, run] of running) {
      const now = clock.now();
      if (now - run.renewedAt < heartbeatMs || run.controller.signal.aborted) continue;
      const renewed = await storage
        .withSystem((tx) => leaseStore.renew(tx, run.grant, now, leaseMs))
        .catch((error: unknown) => {
          logger.warn({ task: name, err: error }, 'could not renew a scheduled task lease');
          return 'unknown' as const;
        });
      if (renewed === 'unknown' && now < run.grant.expiresAt) continue;
      if (renewed === undefined || renewed === 'unknown') {
        // Lapsed, or unknowable past its expiry: another node may run the task now.
        logger.warn({ task: name }, 'scheduled task lease lost; interrupting the run');
        run.controller.abort(new Interrupted('lost'));
        continue;
      }
      run.grant = renewed;
      run.renewedAt = now;
    }
  }

  /** Takes the task's lease if it is still due; the check and the take are one transaction. */
  function claim(task: ScheduledTask, now: number) {
    return storage.withSystem(async (tx) => {
      const grant = await leaseStore.acquire(tx, {
        name: `task:${task.name}`,
        holder: nodeId,
        now,
        ttlMs: leaseMs,
      });
      if (grant === undefined) return undefined;
      const row = (await scheduleStore.read(tx, [task.name])).get(task.name);
      if (row === undefined || row.next_run_at > now) {
        // Another node ran this occurrence between our look and the take.
        await leaseStore.release(tx, grant);
        return undefined;
      }
      await scheduleStore.started(tx, task.name, now);
      return { grant, scheduledFor: row.next_run_at };
    });
  }

  async function finish(
    task: ScheduledTask,
    run: Run,
    outcome: 'succeeded' | 'failed',
    errorCode: string | null,
  ) {
    const at = clock.now();
    const next = nextOccurrence(task.cron, at);
    const nextRunAt =
      outcome === 'succeeded' ? next : Math.min(next, at + (task.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS));
    const recorded = await storage.withSystem(async (tx) => {
      if (!(await leaseStore.holds(tx, run.grant, storage.dialect))) return false;
      await scheduleStore.finished(tx, task.name, { at, outcome, errorCode, nextRunAt });
      await leaseStore.release(tx, run.grant);
      return true;
    });
    if (!recorded) logger.warn({ task: task.name }, 'scheduled task lease lost before its run was recorded');
  }

  async function execute(task: ScheduledTask, run: Run, scheduledFor: number): Promise<void> {
    const { signal } = run.controller;
    const context: TaskContext = {
      signal,
      scheduledFor,
      fence: async (tx) => {
        if (!(await leaseStore.holds(tx, run.grant, storage.dialect))) throw new Interrupted('lost');
      },
    };
    try {
      await task.run(context);
    } catch (error) {
      const interruption = interruptionOf(signal);
      if (interruption === 'lost' || (error instanceof Interrupted && error.reason === 'lost')) {
        logger.warn({ task: task.name }, 'scheduled task run abandoned: its lease was lost');
        return;
      }
      if (interruption === 'stopping') {
        // The occurrence stays due: the next node to look (or this one after a restart) runs it.
        await storage.withSystem((tx) => leaseStore.release(tx, run.grant));
        return;
      }
      const { code } = recordedError(error);
      logger.error(
        { task: task.name, errorCode: code, err: error },
        'scheduled task failed; it will be retried',
      );
      await finish(task, run, 'failed', code);
      return;
    }
    // Outside the try: a failure to record a successful run is not the task's failure.
    await finish(task, run, 'succeeded', null);
  }

  function launch(task: ScheduledTask, grant: LeaseGrant, scheduledFor: number, now: number): void {
    const run: Run = { grant, controller: new AbortController(), renewedAt: now, done: Promise.resolve() };
    running.set(task.name, run);
    run.done = execute(task, run, scheduledFor)
      .catch((error: unknown) => {
        logger.error({ task: task.name, err: error }, 'could not record a scheduled task run');
      })
      .finally(() => {
        running.delete(task.name);
      });
  }

  async function pass(): Promise<void> {
    await renewLeases();
    const now = clock.now();
    const idle = [...tasks.values()].filter((task) => !running.has(task.name));
    if (idle.length === 0) return;
    const rows = await storage.withSystem((tx) =>
      scheduleStore.read(
        tx,
        idle.map((task) => task.name),
      ),
    );
    for (const task of idle) {
      if (stopped) return;
      const row = rows.get(task.name);
      if (row === undefined || row.cron !== task.cron) {
        await storage.withSystem((tx) =>
          scheduleStore.plan(tx, task.name, task.cron, nextOccurrence(task.cron, now)),
        );
        continue;
      }
      if (row.next_run_at > now) continue;
      const claimed = await claim(task, now);
      if (claimed) launch(task, claimed.grant, claimed.scheduledFor, now);
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
    /** Adds a task; its cron expression is checked now, so a typo fails at start-up rather than never runs. */
    register(task: ScheduledTask): void {
      if (!TASK_NAME.test(task.name)) throw new TypeError(`invalid scheduled task name "${task.name}"`);
      if (tasks.has(task.name)) throw new TypeError(`scheduled task "${task.name}" is registered twice`);
      if (task.cron.trim() === '')
        throw new TypeError(`scheduled task "${task.name}" has no cron expression`);
      nextOccurrence(task.cron, clock.now());
      tasks.set(task.name, task);
    },

    /**
     * Renews the leases of running tasks, then starts every due task whose lease this node gets. Resolves once
     * the runs are started (not finished); a tick already under way is joined, never doubled.
     */
    tick,

    /** Ticks every `tickMs` until `stop`. */
    start(tickMs: number): void {
      if (stopped || timer !== undefined) return;
      const tickLogged = () => {
        tick().catch((error: unknown) => {
          logger.error({ err: error }, 'scheduler tick failed');
        });
      };
      timer = setInterval(tickLogged, tickMs);
      timer.unref();
      tickLogged();
    },

    /**
     * Stops ticking, tells running tasks to stop (`stopping`) and waits up to `graceMs` for them to end. A task
     * still running after that keeps its lease until it lapses.
     */
    async stop(graceMs = Number.POSITIVE_INFINITY): Promise<void> {
      stopped = true;
      clearInterval(timer);
      await ticking?.catch(() => undefined);
      for (const run of running.values()) run.controller.abort(new Interrupted('stopping'));
      const ended = Promise.all([...running.values()].map((run) => run.done));
      if (!(await endsWithin(ended, graceMs)))
        logger.warn({ running: [...running.keys()] }, 'scheduled tasks still running at shutdown');
    },

    /** Names of the tasks running on this node now. */
    running(): string[] {
      return [...running.keys()];
    },

    /** Resolves when every task running on this node now has ended (for tests). */
    async settled(): Promise<void> {
      await Promise.all([...running.values()].map((run) => run.done));
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
