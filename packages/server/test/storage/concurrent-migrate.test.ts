import { expect, it } from 'vitest';
import { openStorage } from '../../src/storage/database.ts';
import { migrateToLatest } from '../../src/storage/migrator.ts';
import { createTestDatabase, describePostgres } from '../support/dialects.ts';

/**
 * Nodes of one deployment started together (a rollout, `docker compose up --scale`) migrate the same schema at
 * once. Kysely's migration lock serialises the migrations; the grants to the application role that follow
 * must be serialised too, or PostgreSQL refuses one node's GRANT with "tuple concurrently updated" and that
 * node exits at start (failover drill b met it when two nodes started at the same moment).
 */
describePostgres('nodes starting together', () => {
  it('migrate one schema at the same time, every one of them successfully', async () => {
    for (let round = 0; round < 5; round += 1) {
      const database = createTestDatabase('postgres');
      const nodes = Array.from({ length: 4 }, () =>
        openStorage({
          dataDir: database.dataDir,
          databaseUrl: database.env.DATABASE_URL,
          databaseSchema: database.schema ?? 'public',
          databasePoolSize: 2,
        }),
      );
      try {
        // The first creates the tables; the others start together after it, as a restart of several nodes does.
        const [first, ...others] = nodes;
        if (!first) throw new Error('no node');
        await migrateToLatest(first);
        const outcomes = await Promise.allSettled(others.map((node) => migrateToLatest(node)));
        expect(
          outcomes.map((outcome) => (outcome.status === 'rejected' ? String(outcome.reason) : 'ok')),
        ).toEqual(['ok', 'ok', 'ok']);
      } finally {
        await Promise.all(nodes.map((node) => node.close()));
        await database.drop();
      }
    }
  });
});
