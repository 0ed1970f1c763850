import { afterEach, beforeEach, expect, it } from 'vitest';
import { Interrupted, interruptionOf, JobError } from '../../src/jobs/job-error.ts';
import { createScheduler, type Scheduler, type TaskContext } from '../../src/jobs/scheduler.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { LogCapture } from '../support/start-server.ts';
import { deferred, ManualClock, openSharedDatabase, type SharedDatabase } from './job-test-nodes.ts';

const LEASE_MS = 60_000;
const HEARTBEAT_MS = 20_000;
const MINUTE = 60_000;
/** Midnight UTC: every-five-minutes occurrences fall on whole multiples of five minutes from here. */
const MIDNIGHT = Date.UTC(2030, 0, 1);

describeEachDialect('scheduler', (dialect) => {
  let db: SharedDatabase;
  let clock: ManualClock;
  let logs: LogCapture;
  const schedulers: Scheduler[] = [];

  beforeEach(async () => {
    db = await openSharedDatabase(dialect);
    clock = new ManualClock(MIDNIGHT + 1_000);
    logs = new LogCapture();
  });

  afterEach(async () => {
    await Promise.all(schedulers.splice(0).map((scheduler) => scheduler.stop(1_000)));
    await db.close();
  });

  /** A node: its own database handle, node id and scheduler, all on the shared clock. */
  function node(nodeId: string): Scheduler {
    const scheduler = createScheduler({
      storage: db.node(),
      clock,
      nodeId,
      logger: createLogger('info', logs),
      leaseMs: LEASE_MS,
      heartbeatMs: HEARTBEAT_MS,
    });
    schedulers.push(scheduler);
    return scheduler;
  }

  const lastRun = (name: string) =>
    db.main.withSystem((tx) =>
      tx.selectFrom('scheduled_tasks').selectAll().where('name', '=', name).executeTakeFirstOrThrow(),
    );

  it('refuses a task whose cron expression does not parse, at registration', () => {
    const scheduler = node('node-a');
    expect(() => {
      scheduler.register({ name: 'broken', cron: '61 * * * *', run: () => Promise.resolve() });
    }).toThrow();
    expect(() => {
      scheduler.register({ name: 'empty', cron: ' ', run: () => Promise.resolve() });
    }).toThrow(/no cron/);
  });

  it('runs each occurrence once across two nodes, at its time and not before', async () => {
    const runs: { node: string; scheduledFor: number }[] = [];
    const nodes = ['node-a', 'node-b'].map((nodeId) => {
      const scheduler = node(nodeId);
      scheduler.register({
        name: 'sweep',
        cron: '*/5 * * * *',
        run: (context) => {
          runs.push({ node: nodeId, scheduledFor: context.scheduledFor });
          return Promise.resolve();
        },
      });
      return scheduler;
    });
    const tickAll = async () => {
      await Promise.all(nodes.map((scheduler) => scheduler.tick()));
      await Promise.all(nodes.map((scheduler) => scheduler.settled()));
    };

    await tickAll(); // plans the first occurrence, 00:05
    clock.set(MIDNIGHT + 5 * MINUTE - 1);
    await tickAll();
    expect(runs).toHaveLength(0);

    clock.set(MIDNIGHT + 5 * MINUTE);
    await tickAll();
    await tickAll();
    expect(runs).toEqual([{ node: expect.any(String), scheduledFor: MIDNIGHT + 5 * MINUTE }]);

    clock.set(MIDNIGHT + 10 * MINUTE + 30_000);
    await tickAll();
    await tickAll();
    expect(runs.map((run) => run.scheduledFor)).toEqual([MIDNIGHT + 5 * MINUTE, MIDNIGHT + 10 * MINUTE]);
    expect(await lastRun('sweep')).toMatchObject({
      last_outcome: 'succeeded',
      next_run_at: MIDNIGHT + 15 * MINUTE,
    });
  });

  it('never overlaps a run still going, on its own node or another', async () => {
    const release = deferred();
    let started = 0;
    const nodes = ['node-a', 'node-b'].map((nodeId) => {
      const scheduler = node(nodeId);
      scheduler.register({
        name: 'slow',
        cron: '* * * * *',
        run: async () => {
          started += 1;
          await release.promise;
        },
      });
      return scheduler;
    });
    await Promise.all(nodes.map((scheduler) => scheduler.tick()));
    clock.set(MIDNIGHT + MINUTE);
    await Promise.all(nodes.map((scheduler) => scheduler.tick()));
    expect(started).toBe(1);
    // Three more occurrences pass while it runs; both nodes tick every heartbeat (the holder renews its
    // lease each time), and none starts a second run.
    for (let step = 1; step <= (3 * MINUTE) / HEARTBEAT_MS; step += 1) {
      clock.advance(HEARTBEAT_MS);
      for (const scheduler of nodes) await scheduler.tick();
    }
    expect(started).toBe(1);
    release.resolve();
    await Promise.all(nodes.map((scheduler) => scheduler.settled()));
    expect(await lastRun('slow')).toMatchObject({
      last_outcome: 'succeeded',
      next_run_at: MIDNIGHT + 5 * MINUTE,
    });
  });

  it('hands the task to another node once the holder stops renewing, and fences the old holder out', async () => {
    const holderStuck = deferred();
    const holderStarted = deferred<TaskContext>();
    const runs: string[] = [];
    const nodeA = node('node-a');
    nodeA.register({
      name: 'backup',
      cron: '0 * * * *',
      run: async (context) => {
        runs.push('node-a');
        holderStarted.resolve(context);
        await holderStuck.promise;
      },
    });
    const nodeB = node('node-b');
    nodeB.register({
      name: 'backup',
      cron: '0 * * * *',
      run: () => {
        runs.push('node-b');
        return Promise.resolve();
      },
    });
    await nodeA.tick();
    clock.set(MIDNIGHT + 60 * MINUTE);
    await nodeA.tick();
    const stale = await holderStarted.promise;

    // node-a is frozen from now on (no more ticks, so no more renewals). Within the lease, node-b waits.
    clock.advance(LEASE_MS - 1);
    await nodeB.tick();
    await nodeB.settled();
    expect(runs).toEqual(['node-a']);

    clock.advance(1);
    await nodeB.tick();
    await nodeB.settled();
    expect(runs).toEqual(['node-a', 'node-b']);
    expect(await lastRun('backup')).toMatchObject({
      last_outcome: 'succeeded',
      next_run_at: MIDNIGHT + 120 * MINUTE,
    });

    // node-a wakes up: its work can no longer commit, and its run is not recorded over node-b's.
    const storage = db.main;
    await expect(storage.withSystem((tx) => stale.fence(tx))).rejects.toThrow(Interrupted);
    holderStuck.resolve();
    await nodeA.settled();
    expect(logs.text()).toContain('scheduled task lease lost before its run was recorded');
    expect(await lastRun('backup')).toMatchObject({ next_run_at: MIDNIGHT + 120 * MINUTE });
  });

  it('logs a failure by its code, without the personal data of its message, and retries it later', async () => {
    let attempts = 0;
    const scheduler = node('node-a');
    scheduler.register({
      name: 'retention',
      cron: '0 3 * * *',
      retryDelayMs: 5 * MINUTE,
      run: () => {
        attempts += 1;
        if (attempts === 1) return Promise.reject(new JobError('purge_failed', 'could not purge'));
        if (attempts === 2) return Promise.reject(new Error('duplicate key for alice@example.com'));
        return Promise.resolve();
      },
    });
    await scheduler.tick();
    clock.set(MIDNIGHT + 3 * 60 * MINUTE);
    await scheduler.tick();
    await scheduler.settled();
    expect(await lastRun('retention')).toMatchObject({
      last_outcome: 'failed',
      last_error_code: 'purge_failed',
      next_run_at: MIDNIGHT + 3 * 60 * MINUTE + 5 * MINUTE,
    });

    clock.advance(5 * MINUTE - 1);
    await scheduler.tick();
    await scheduler.settled();
    expect(attempts).toBe(1);

    clock.advance(1);
    await scheduler.tick();
    await scheduler.settled();
    expect(attempts).toBe(2);
    expect(await lastRun('retention')).toMatchObject({
      last_outcome: 'failed',
      last_error_code: 'internal_error',
    });

    clock.advance(5 * MINUTE);
    await scheduler.tick();
    await scheduler.settled();
    expect(attempts).toBe(3);
    expect(await lastRun('retention')).toMatchObject({
      last_outcome: 'succeeded',
      last_error_code: null,
      next_run_at: MIDNIGHT + (24 + 3) * 60 * MINUTE,
    });

    const failures = logs.entries().filter((entry) => entry.task === 'retention');
    expect(failures.map((entry) => entry.errorCode)).toEqual(['purge_failed', 'internal_error']);
    expect(logs.text()).not.toContain('alice@example.com');
  });

  it('on stop, interrupts the running task, waits for it, and leaves the occurrence due for the next node', async () => {
    const started = deferred();
    let stopReason: string | undefined;
    let finished = false;
    const nodeA = node('node-a');
    nodeA.register({
      name: 'export-sweep',
      cron: '*/5 * * * *',
      run: async (context) => {
        started.resolve();
        await new Promise<void>((resolve) => {
          context.signal.addEventListener('abort', () => {
            resolve();
          });
        });
        stopReason = interruptionOf(context.signal);
        // A task that honours the signal winds down (here: a tick of real time) and then throws it.
        await new Promise((resolve) => setTimeout(resolve, 20));
        finished = true;
        context.signal.throwIfAborted();
      },
    });
    await nodeA.tick();
    clock.set(MIDNIGHT + 5 * MINUTE);
    await nodeA.tick();
    await started.promise;
    await nodeA.stop();
    expect(finished).toBe(true);
    expect(stopReason).toBe('stopping');
    expect(nodeA.running()).toEqual([]);

    // The lease was released and the occurrence not marked done: another node runs it at once.
    let ranElsewhere = false;
    const nodeB = node('node-b');
    nodeB.register({
      name: 'export-sweep',
      cron: '*/5 * * * *',
      run: () => {
        ranElsewhere = true;
        return Promise.resolve();
      },
    });
    await nodeB.tick();
    await nodeB.settled();
    expect(ranElsewhere).toBe(true);
  });
});
