import { expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/jobs/index.ts';
import { openStorage } from '../../src/storage/database.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { startTestServer } from '../support/start-server.ts';
import { deferred } from './job-test-nodes.ts';

describeEachDialect('background jobs in the server', (dialect) => {
  it('start with the server, and on shutdown hand a running job back with its checkpoint', async () => {
    const server = await startTestServer({ dialect, env: { PARLEY_JOB_POLL_INTERVAL_MS: '100' } });
    const { app, database } = server;
    try {
      const taskRan = deferred();
      app.jobs.scheduler.register({
        name: 'app-probe',
        cron: '* * * * * *',
        run: () => {
          taskRan.resolve();
          return Promise.resolve();
        },
      });
      const checkpointed = deferred();
      const probe = defineJob({
        kind: 'app_probe',
        payload: z.object({}),
        progress: z.object({ step: z.number() }),
        run: async (context) => {
          await context.checkpoint({ step: 1 });
          checkpointed.resolve();
          await new Promise<void>((resolve) => {
            context.signal.addEventListener('abort', () => {
              resolve();
            });
          });
          context.signal.throwIfAborted();
        },
      });
      app.jobs.runner.register(probe);
      const id = await app.storage.withSystem((tx) =>
        app.jobs.queue.enqueue(tx, probe, { tenantId: null, payload: {} }),
      );
      await Promise.all([taskRan.promise, checkpointed.promise]);

      await app.shutdown();
      const storage = openStorage({
        dataDir: database.dataDir,
        databaseUrl: database.env.DATABASE_URL,
        databaseSchema: database.schema ?? 'public',
        databasePoolSize: 1,
      });
      const job = await storage.withSystem((tx) => app.jobs.queue.get(tx, null, id));
      await storage.close();
      expect(job).toMatchObject({ state: 'queued', attempts: 0, progress: { step: 1 }, lockedBy: null });
    } finally {
      await server.close();
    }
  });
});
