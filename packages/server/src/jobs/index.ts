import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Logger } from '../observability/logger.ts';
import type { Storage } from '../storage/database.ts';
import { createJobQueue } from './job-queue.ts';
import { createJobRunner } from './job-runner.ts';
import { createScheduler } from './scheduler.ts';

export { defineJob, type JobContext, type JobDefinition } from './job-definition.ts';
export { Interrupted, interruptionOf, JobDeferred, JobError } from './job-error.ts';
export type { JobQueue } from './job-queue.ts';
export type { JobRecord } from './job-store.ts';
export type { JobRunner } from './job-runner.ts';
export type { ScheduledTask, Scheduler, TaskContext } from './scheduler.ts';

/**
 * Background work of one node (docs/jobs.md): the scheduler of periodic tasks, the runner of durable jobs,
 * and the queue services use to create jobs. Features register their tasks and job kinds before `start`.
 */
export function createBackgroundJobs(deps: {
  storage: Storage;
  clock: Clock;
  nodeId: string;
  logger: Logger;
  /** How often this node ticks: looks for due work and renews what it holds. */
  pollIntervalMs: number;
  /** A dead node's tasks and jobs are taken over this long after its last renewal. */
  leaseMs: number;
  concurrency: number;
}) {
  const { storage, clock, logger, pollIntervalMs, leaseMs, concurrency } = deps;
  // Leases and claims name this process, not only the node: two processes given the same PARLEY_NODE_ID
  // (a misconfiguration, or a restart while the old process still runs) must not share a lease.
  const nodeId = `${deps.nodeId}/${randomBytes(4).toString('hex')}`;
  // Renewed every third of the lease: one missed tick (or a slow database) does not lose it.
  const heartbeatMs = Math.floor(leaseMs / 3);
  const scheduler = createScheduler({ storage, clock, nodeId, logger, leaseMs, heartbeatMs });
  const runner = createJobRunner({
    storage,
    clock,
    nodeId,
    logger,
    lockMs: leaseMs,
    heartbeatMs,
    concurrency,
  });
  const queue = createJobQueue({ clock });
  return {
    scheduler,
    runner,
    queue,
    start(): void {
      scheduler.start(pollIntervalMs);
      runner.start(pollIntervalMs);
    },
    /** Lets running work wind down (up to `graceMs`) and hand back what it did not finish. */
    async stop(graceMs: number): Promise<void> {
      await Promise.all([scheduler.stop(graceMs), runner.stop(graceMs)]);
    },
  };
}

export type BackgroundJobs = ReturnType<typeof createBackgroundJobs>;
