import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob, type JobContext, type JobDefinition } from '../../src/jobs/job-definition.ts';
import { interruptionOf, JobError } from '../../src/jobs/job-error.ts';
import { createJobQueue } from '../../src/jobs/job-queue.ts';
import { createJobRunner, type JobRunner, type JobRunnerOptions } from '../../src/jobs/job-runner.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { Storage } from '../../src/storage/database.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { LogCapture } from '../support/start-server.ts';
import { deferred, ManualClock, openSharedDatabase, type SharedDatabase } from './job-test-nodes.ts';

const LOCK_MS = 60_000;
const HEARTBEAT_MS = 20_000;
const BACKOFF = { baseMs: 10_000, maxMs: 60_000 };

/** An export-like job: walks `total` items in batches of `batch`, checkpointing after each. */
const walkPayload = z.object({ total: z.number().int(), batch: z.number().int() });
const walkProgress = z.object({ done: z.number().int() });

describeEachDialect('job runner', (dialect) => {
  let db: SharedDatabase;
  let clock: ManualClock;
  let logs: LogCapture;
  const queue = () => createJobQueue({ clock });
  const runners: JobRunner[] = [];

  beforeEach(async () => {
    db = await openSharedDatabase(dialect);
    clock = new ManualClock();
    logs = new LogCapture();
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((runner) => runner.stop(1_000)));
    await db.close();
  });

  function runner(nodeId: string, overrides: Partial<JobRunnerOptions> = {}): JobRunner {
    const created = createJobRunner({
      storage: db.node(),
      clock,
      nodeId,
      logger: createLogger('info', logs),
      lockMs: LOCK_MS,
      heartbeatMs: HEARTBEAT_MS,
      concurrency: 1,
      backoff: BACKOFF,
      ...overrides,
    });
    runners.push(created);
    return created;
  }

  const enqueueSystem = <P, C>(storage: Storage, definition: JobDefinition<P, C>, payload: P) =>
    storage.withSystem((tx) => queue().enqueue(tx, definition, { tenantId: null, payload }));

  const jobRow = (id: string) => db.main.withSystem((tx) => queue().get(tx, null, id));

  it('runs a job to the end and records it as succeeded', async () => {
    const seen: unknown[] = [];
    const job = defineJob({
      kind: 'echo',
      payload: z.object({ userId: z.string() }),
      progress: z.never(),
      run: (context) => {
        seen.push(context.job.payload);
        return Promise.resolve();
      },
    });
    const node = runner('node-a');
    node.register(job);
    const id = await enqueueSystem(db.main, job, { userId: 'u-1' });
    await node.tick();
    await node.settled();
    expect(seen).toEqual([{ userId: 'u-1' }]);
    expect(await jobRow(id)).toMatchObject({
      state: 'succeeded',
      attempts: 1,
      lockedBy: null,
      finishedAt: clock.now(),
      errorCode: null,
    });
  });

  it('refuses at enqueue a payload its schema does not accept', async () => {
    const job = defineJob({
      kind: 'strict',
      payload: z.object({ userId: z.uuid() }),
      progress: z.never(),
      run: () => Promise.resolve(),
    });
    await expect(enqueueSystem(db.main, job, { userId: 'alice@example.com' })).rejects.toThrow();
  });

  /** A walk handler that records every item it processes and can be held after a given checkpoint. */
  function walkJob(
    processed: number[],
    options: { holdAfter?: number; held?: { promise: Promise<void> } } = {},
  ) {
    const reached = deferred();
    const definition = defineJob({
      kind: 'walk',
      payload: walkPayload,
      progress: walkProgress,
      run: async (context: JobContext<z.infer<typeof walkPayload>, z.infer<typeof walkProgress>>) => {
        const { total, batch } = context.job.payload;
        let done = context.job.progress?.done ?? 0;
        while (done < total) {
          context.signal.throwIfAborted();
          const end = Math.min(done + batch, total);
          for (let item = done; item < end; item += 1) processed.push(item);
          done = end;
          await context.checkpoint({ done });
          if (done === options.holdAfter) {
            reached.resolve();
            await options.held?.promise;
          }
        }
      },
    });
    return { definition, reached: reached.promise };
  }

  it('resumes from its last checkpoint after a clean restart, without counting the interrupted attempt', async () => {
    const processed: number[] = [];
    const held = deferred();
    const first = walkJob(processed, { holdAfter: 4, held });
    const nodeA = runner('node-a');
    nodeA.register(first.definition);
    const id = await enqueueSystem(db.main, first.definition, { total: 10, batch: 2 });
    await nodeA.tick();
    await first.reached;

    // Shutdown: the handler is told to stop, gives up at its next check, and the job is handed back.
    const stopping = nodeA.stop();
    held.resolve();
    await stopping;
    expect(await jobRow(id)).toMatchObject({
      state: 'queued',
      attempts: 0,
      progress: { done: 4 },
      lockedBy: null,
    });

    const second = walkJob(processed);
    const nodeB = runner('node-b');
    nodeB.register(second.definition);
    await nodeB.tick();
    await nodeB.settled();
    expect(processed).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await jobRow(id)).toMatchObject({ state: 'succeeded', attempts: 1, progress: { done: 10 } });
  });

  it('re-claims the job of a node that died once its claim lapsed, and keeps the dead node from writing', async () => {
    const processed: number[] = [];
    const frozen = deferred();
    const dying = walkJob(processed, { holdAfter: 6, held: frozen });
    const nodeA = runner('node-a');
    nodeA.register(dying.definition);
    const id = await enqueueSystem(db.main, dying.definition, { total: 10, batch: 3 });
    await nodeA.tick();
    await dying.reached;
    // node-a is dead from here on: it never ticks (no heartbeat) and its handler never comes back in time.

    const survivor = walkJob(processed);
    const nodeB = runner('node-b');
    nodeB.register(survivor.definition);
    clock.advance(LOCK_MS - 1);
    await nodeB.tick();
    expect(nodeB.running()).toEqual([]);

    clock.advance(1);
    await nodeB.tick();
    await nodeB.settled();
    expect(processed).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await jobRow(id)).toMatchObject({ state: 'succeeded', attempts: 2, lockedBy: null });

    // node-a comes back to life: its next checkpoint finds the claim gone and changes nothing.
    frozen.resolve();
    await nodeA.settled();
    expect(await jobRow(id)).toMatchObject({ state: 'succeeded', attempts: 2, progress: { done: 10 } });
    expect(logs.text()).toContain('job abandoned here: its claim was lost');
  });

  it("commits a tenant job's batch with its checkpoint, and nothing of a node that lost its claim", async () => {
    const tenantId = randomUUID();
    const storage = db.main;
    const jobs = queue();
    const marker = defineJob({
      kind: 'batch_marker',
      payload: z.object({ batch: z.number() }),
      progress: z.never(),
      run: () => Promise.resolve(),
    });
    const proceed = [deferred(), deferred()];
    const firstCommitted = deferred();
    const batchJob = defineJob({
      kind: 'tenant_batches',
      payload: z.object({}),
      progress: z.object({ batch: z.number() }),
      run: async (context) => {
        for (let batch = (context.job.progress?.batch ?? 0) + 1; batch <= 2; batch += 1) {
          await proceed[batch - 1]?.promise;
          // The batch's work (here: a row of its own) and the checkpoint after it, in one tenant transaction.
          await storage.withTenant(tenantId, async (tx) => {
            await jobs.enqueue(tx, marker, { tenantId, payload: { batch } });
            await context.checkpoint({ batch }, tx);
          });
          if (batch === 1) firstCommitted.resolve();
        }
      },
    });
    const nodeA = runner('node-a');
    nodeA.register(batchJob);
    const id = await storage.withTenant(tenantId, (tx) =>
      jobs.enqueue(tx, batchJob, { tenantId, payload: {} }),
    );
    await nodeA.tick();
    proceed[0]?.resolve();
    const markers = () =>
      storage.withTenant(tenantId, async (tx) =>
        (await jobs.list(tx, { tenantId, kind: 'batch_marker' })).map((job) => job.payload),
      );
    await firstCommitted.promise;
    expect(await markers()).toEqual([{ batch: 1 }]);

    // node-a stalls before batch 2 and loses its claim to node-b, which does batch 2 from the checkpoint.
    clock.advance(LOCK_MS);
    const nodeB = runner('node-b');
    nodeB.register(batchJob);
    await nodeB.tick();
    proceed[1]?.resolve();
    await nodeB.settled();
    await nodeA.settled();
    // node-a's batch 2 rolled back with its refused checkpoint: one marker per batch, not two for batch 2.
    expect(await markers()).toEqual([{ batch: 2 }, { batch: 1 }]);
    expect(await storage.withTenant(tenantId, (tx) => jobs.get(tx, tenantId, id))).toMatchObject({
      state: 'succeeded',
      attempts: 2,
      progress: { batch: 2 },
    });
  });

  it('fails a job whose node died during its last attempt instead of claiming it forever', async () => {
    const started = deferred();
    const job = defineJob({
      kind: 'crashy',
      payload: z.object({}),
      progress: z.never(),
      maxAttempts: 1,
      run: async () => {
        started.resolve();
        await new Promise(() => undefined);
      },
    });
    const nodeA = runner('node-a');
    nodeA.register(job);
    const id = await enqueueSystem(db.main, job, {});
    await nodeA.tick();
    await started.promise;
    clock.advance(LOCK_MS);

    const nodeB = runner('node-b');
    nodeB.register(job);
    await nodeB.tick();
    expect(nodeB.running()).toEqual([]);
    expect(await jobRow(id)).toMatchObject({ state: 'failed', errorCode: 'abandoned', attempts: 1 });
    runners.splice(runners.indexOf(nodeA), 1); // its handler never ends; nothing to await
  });

  it('cancels a queued job before it runs, and stops a running one at its next heartbeat', async () => {
    const ran: string[] = [];
    const started = deferred();
    let reasonSeen: string | undefined;
    let cancelledSeen = false;
    const job = defineJob({
      kind: 'cancellable',
      payload: z.object({ name: z.string() }),
      progress: z.never(),
      run: async (context) => {
        ran.push(context.job.payload.name);
        started.resolve();
        await new Promise<void>((resolve) => {
          context.signal.addEventListener('abort', () => {
            resolve();
          });
        });
        reasonSeen = interruptionOf(context.signal);
        cancelledSeen = context.isCancelled();
        context.signal.throwIfAborted();
      },
    });
    const storage = db.main;
    const node = runner('node-a');
    node.register(job);
    const queuedId = await enqueueSystem(storage, job, { name: 'queued' });
    expect(await storage.withSystem((tx) => queue().cancel(tx, null, queuedId))).toBe('cancelled');

    const runningId = await enqueueSystem(storage, job, { name: 'running' });
    await node.tick();
    await started.promise;
    expect(await storage.withSystem((tx) => queue().cancel(tx, null, runningId))).toBe('running');
    clock.advance(HEARTBEAT_MS);
    await node.tick();
    await node.settled();

    expect(ran).toEqual(['running']);
    expect(reasonSeen).toBe('cancelled');
    expect(cancelledSeen).toBe(true);
    expect(await jobRow(queuedId)).toMatchObject({ state: 'cancelled', attempts: 0 });
    expect(await jobRow(runningId)).toMatchObject({ state: 'cancelled', attempts: 1, lockedBy: null });
    // Cancelling what has ended changes nothing.
    expect(await storage.withSystem((tx) => queue().cancel(tx, null, runningId))).toBeUndefined();
  });

  it('retries a failure with backoff, then records the code and a message without stack or personal data', async () => {
    let attempts = 0;
    const job = defineJob({
      kind: 'flaky',
      payload: z.object({}),
      progress: z.never(),
      maxAttempts: 3,
      run: () => {
        attempts += 1;
        if (attempts < 3) return Promise.reject(new JobError('storage_unavailable', 'archive store refused'));
        return Promise.reject(new Error('duplicate key (email)=(alice@example.com)'));
      },
    });
    const node = runner('node-a');
    node.register(job);
    const id = await enqueueSystem(db.main, job, {});
    const t0 = clock.now();
    await node.tick();
    await node.settled();
    expect(await jobRow(id)).toMatchObject({
      state: 'queued',
      attempts: 1,
      runAfter: t0 + BACKOFF.baseMs,
      errorCode: 'storage_unavailable',
      errorMessage: 'archive store refused',
    });

    clock.advance(BACKOFF.baseMs - 1);
    await node.tick();
    await node.settled();
    expect(attempts).toBe(1);
    clock.advance(1);
    await node.tick();
    await node.settled();
    expect(await jobRow(id)).toMatchObject({
      state: 'queued',
      attempts: 2,
      runAfter: clock.now() + 2 * BACKOFF.baseMs,
    });

    clock.advance(2 * BACKOFF.baseMs);
    await node.tick();
    await node.settled();
    const failed = await jobRow(id);
    expect(failed).toMatchObject({
      state: 'failed',
      attempts: 3,
      errorCode: 'internal_error',
      finishedAt: clock.now(),
    });
    expect(failed?.errorMessage).not.toMatch(/alice|example\.com|\n\s+at /);
    expect(logs.text()).not.toContain('alice@example.com');
    expect(
      logs
        .entries()
        .filter((entry) => entry.jobId === id)
        .map((entry) => entry.errorCode),
    ).toEqual(['storage_unavailable', 'storage_unavailable', 'internal_error']);
  });

  it('keeps tenant jobs to their tenant, and lists them by tenant, kind and state', async () => {
    const tenantA = randomUUID();
    const tenantB = randomUUID();
    const exportJob = defineJob({
      kind: 'tenant_export',
      payload: z.object({ userId: z.string() }),
      progress: z.never(),
      run: () => Promise.resolve(),
    });
    const purgeJob = defineJob({
      kind: 'tenant_purge',
      payload: z.object({}),
      progress: z.never(),
      run: () => Promise.resolve(),
    });
    const storage = db.main;
    const jobs = queue();
    const exportA = await storage.withTenant(tenantA, (tx) =>
      jobs.enqueue(tx, exportJob, { tenantId: tenantA, payload: { userId: 'u-a' }, requestedBy: 'admin-a' }),
    );
    await storage.withTenant(tenantA, (tx) => jobs.enqueue(tx, purgeJob, { tenantId: tenantA, payload: {} }));
    await storage.withTenant(tenantB, (tx) =>
      jobs.enqueue(tx, exportJob, { tenantId: tenantB, payload: { userId: 'u-b' } }),
    );
    await storage.withSystem((tx) => jobs.enqueue(tx, purgeJob, { tenantId: null, payload: {} }));

    const listed = await storage.withTenant(tenantA, (tx) =>
      jobs.list(tx, { tenantId: tenantA, kind: 'tenant_export', state: 'queued' }),
    );
    expect(listed.map((job) => [job.id, job.requestedBy])).toEqual([[exportA, 'admin-a']]);
    expect(await storage.withTenant(tenantB, (tx) => jobs.get(tx, tenantB, exportA))).toBeUndefined();
    expect(await storage.withTenant(tenantB, (tx) => jobs.cancel(tx, tenantB, exportA))).toBeUndefined();
    if (dialect === 'postgres') {
      // Attack: tenant B's transaction asks for tenant A's jobs, or plants one for A or for the system.
      // Row-level security answers with nothing and refuses the writes.
      expect(await storage.withTenant(tenantB, (tx) => jobs.list(tx, { tenantId: tenantA }))).toEqual([]);
      expect(await storage.withTenant(tenantB, (tx) => jobs.cancel(tx, tenantA, exportA))).toBeUndefined();
      await expect(
        storage.withTenant(tenantB, (tx) => jobs.enqueue(tx, purgeJob, { tenantId: tenantA, payload: {} })),
      ).rejects.toThrow(/row-level security/);
      await expect(
        storage.withTenant(tenantB, (tx) => jobs.enqueue(tx, purgeJob, { tenantId: null, payload: {} })),
      ).rejects.toThrow(/row-level security/);
    }
    expect(await storage.withTenant(tenantA, (tx) => jobs.list(tx, { tenantId: tenantA }))).toHaveLength(2);
    expect(await storage.withSystem((tx) => jobs.list(tx, { tenantId: null }))).toHaveLength(1);
    const all = await storage.withSystem((tx) => jobs.listAll(tx, {}));
    expect(all).toHaveLength(4);
    // Newest first, and pages continue from the last id seen.
    const page = await storage.withSystem((tx) => jobs.listAll(tx, { limit: 3 }));
    const rest = await storage.withSystem((tx) => jobs.listAll(tx, { beforeId: page.at(-1)?.id }));
    expect([...page, ...rest].map((job) => job.id)).toEqual(all.map((job) => job.id));
    expect(all.map((job) => job.id)).toEqual(
      all
        .map((job) => job.id)
        .sort()
        .reverse(),
    );

    // One runner, across tenants, runs them all.
    const node = runner('node-a', { concurrency: 4 });
    node.register(exportJob);
    node.register(purgeJob);
    await node.tick();
    await node.settled();
    const states = await storage.withSystem((tx) => jobs.listAll(tx, { state: 'succeeded' }));
    expect(states).toHaveLength(4);
  });

  it('never runs one job on two runners at once', async () => {
    const JOBS = 30;
    const runningNow = new Set<string>();
    const runs: string[] = [];
    const overlaps: string[] = [];
    const job = defineJob({
      kind: 'contended',
      payload: z.object({ n: z.number() }),
      progress: z.never(),
      run: async (context) => {
        if (runningNow.has(context.job.id)) overlaps.push(context.job.id);
        runningNow.add(context.job.id);
        runs.push(context.job.id);
        await new Promise((resolve) => setTimeout(resolve, 5));
        runningNow.delete(context.job.id);
      },
    });
    const storage = db.main;
    for (let n = 0; n < JOBS; n += 1) await enqueueSystem(storage, job, { n });
    const nodes = ['node-a', 'node-b', 'node-c'].map((nodeId) => {
      const created = runner(nodeId, { concurrency: 4 });
      created.register(job);
      return created;
    });
    const succeeded = async () =>
      (await storage.withSystem((tx) => queue().listAll(tx, { state: 'succeeded', limit: 100 }))).length;
    // Each round the three runners claim at the same time (each up to four jobs), then their handlers finish.
    for (let round = 0; round < 20 && (await succeeded()) < JOBS; round += 1) {
      await Promise.all(nodes.map((node) => node.tick()));
      await Promise.all(nodes.map((node) => node.settled()));
    }
    expect(overlaps).toEqual([]);
    expect(runs).toHaveLength(JOBS);
    expect(new Set(runs).size).toBe(JOBS);
    expect(await succeeded()).toBe(JOBS);
  });
});
