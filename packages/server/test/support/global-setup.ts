import { Redis } from 'ioredis';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

const postgresUrl = process.env.PARLEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.PARLEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function probePostgres(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function probeRedis(): Promise<string | undefined> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    redis.disconnect();
  }
}

/**
 * Probes the real services once for the whole run. Outside CI a missing service skips its suites with one
 * printed line; with CI=true it fails the run, because a skipped suite there would hide a regression.
 */
export default async function setup(project: TestProject): Promise<void> {
  const [postgresProblem, redisProblem] = await Promise.all([probePostgres(), probeRedis()]);
  const missing: string[] = [];
  if (postgresProblem) missing.push(`PostgreSQL suites: cannot reach ${postgresUrl} (${postgresProblem})`);
  if (redisProblem) missing.push(`Redis suites: cannot reach ${redisUrl} (${redisProblem})`);
  if (missing.length > 0 && process.env.CI === 'true') {
    throw new Error(`CI=true and a service suite cannot run:\n  ${missing.join('\n  ')}`);
  }
  for (const line of missing) process.stdout.write(`SKIPPING ${line}\n`);
  project.provide('postgresUrl', postgresProblem ? '' : postgresUrl);
  project.provide('redisUrl', redisProblem ? '' : redisUrl);
}
