import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/jobs/job-definition.ts';
import { createJobQueue } from '../../src/jobs/job-queue.ts';
import { createJobRunner } from '../../src/jobs/job-runner.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import { applicationRole } from '../../src/storage/dialects/postgres.ts';
import { migrateToLatest } from '../../src/storage/migrator.ts';
import { describePostgres } from '../support/dialects.ts';
import { ManualClock } from './job-test-nodes.ts';

/**
 * Production connects as the schema's owner, not as a superuser (docs/deployment.md), and tenant tables are
 * under *forced* row-level security, which binds their owner too. The other tests connect as a superuser,
 * which row-level security never binds; here the whole schema belongs to an ordinary login role, as a DBA
 * would set it up, so the runner's cross-tenant claim is tested under the policies it meets in production.
 */
describePostgres('job runner as the schema owner without superuser rights', () => {
  const suffix = randomBytes(4).toString('hex');
  const owner = `jobs_owner_${suffix}`;
  const schema = `t_jobs_owner_${suffix}`;
  let admin: pg.Client;
  let storage: Storage;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: inject('postgresUrl') });
    await admin.connect();
    await admin.query(`create role ${owner} login nosuperuser nocreaterole nocreatedb`);
    await admin.query(`do $$ begin create role ${applicationRole} nologin;
      exception when duplicate_object or unique_violation then null; end $$`);
    await admin.query(`grant ${applicationRole} to ${owner}`);
    await admin.query(`create schema ${schema} authorization ${owner}`);
    const url = new URL(inject('postgresUrl'));
    url.username = owner;
    storage = openStorage({
      databaseUrl: url.toString(),
      databaseSchema: schema,
      databasePoolSize: 2,
      dataDir: '.',
    });
    await migrateToLatest(storage);
  });

  afterAll(async () => {
    await storage.close();
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.query(`drop owned by ${owner}`);
    await admin.query(`drop role ${owner}`);
    await admin.end();
  });

  it('claims tenant and system jobs across tenants, while tenant transactions still see only their own', async () => {
    const { rows } = await admin.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
      'select rolsuper, rolbypassrls from pg_roles where rolname = $1',
      [owner],
    );
    expect(rows[0]).toEqual({ rolsuper: false, rolbypassrls: false });

    const clock = new ManualClock();
    const queue = createJobQueue({ clock });
    const ran: (string | null)[] = [];
    const job = defineJob({
      kind: 'owner_probe',
      payload: z.object({}),
      progress: z.object({ step: z.number() }),
      run: async (context) => {
        await context.checkpoint({ step: 1 });
        ran.push(context.job.tenantId);
      },
    });
    const tenantA = randomUUID();
    const tenantB = randomUUID();
    await storage.withTenant(tenantA, (tx) => queue.enqueue(tx, job, { tenantId: tenantA, payload: {} }));
    await storage.withTenant(tenantB, (tx) => queue.enqueue(tx, job, { tenantId: tenantB, payload: {} }));
    await storage.withSystem((tx) => queue.enqueue(tx, job, { tenantId: null, payload: {} }));

    expect(await storage.withTenant(tenantB, (tx) => queue.list(tx, { tenantId: tenantA }))).toEqual([]);
    expect(await storage.withTenant(tenantB, (tx) => queue.list(tx, { tenantId: null }))).toEqual([]);
    await expect(
      storage.withTenant(tenantB, (tx) => queue.enqueue(tx, job, { tenantId: null, payload: {} })),
    ).rejects.toThrow(/row-level security/);

    const runner = createJobRunner({
      storage,
      clock,
      nodeId: 'node-a',
      logger: createLogger('silent'),
      lockMs: 60_000,
      heartbeatMs: 20_000,
      concurrency: 3,
    });
    runner.register(job);
    await runner.tick();
    await runner.settled();
    await runner.stop();
    expect(ran.sort()).toEqual([null, tenantA, tenantB].sort());
    const states = await storage.withSystem((tx) => queue.listAll(tx, {}));
    expect(states.map((record) => record.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });
});
