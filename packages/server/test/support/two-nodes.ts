import { inject } from 'vitest';
import type { Bus } from '../../src/bus/bus.ts';
import { startTestServer, type TestServer } from './start-server.ts';

/** Resolves once the node's Redis subscription is up (the event, not a poll). */
function untilReliable(bus: Bus): Promise<void> {
  if (bus.reliable) return Promise.resolve();
  return new Promise((resolve) => {
    bus.onReliabilityChange((reliable) => {
      if (reliable) resolve();
    });
  });
}

export interface TwoNodes {
  nodeA: TestServer;
  nodeB: TestServer;
  close(): Promise<void>;
}

/**
 * Two servers as two nodes of one deployment: one PostgreSQL schema, one Redis (a random key prefix), the
 * same master key and erasure register, each with its own process state. Resolves once both listen on Redis.
 * `env` is added to both nodes' configuration.
 */
export async function startTwoNodes(options: { env?: Record<string, string> } = {}): Promise<TwoNodes> {
  const redisUrl = inject('redisUrl');
  if (!redisUrl) throw new Error('two nodes need Redis too');
  const prefix = `parley-test-${Math.random().toString(36).slice(2)}:`;
  const nodeA = await startTestServer({
    dialect: 'postgres',
    env: { ...options.env, REDIS_URL: redisUrl, PARLEY_REDIS_PREFIX: prefix },
  });
  const nodeB = await startTestServer({
    dialect: 'postgres',
    env: {
      ...options.env,
      ...nodeA.database.env,
      PARLEY_MASTER_KEY_FILE: `${nodeA.database.dataDir}/master.key`,
      PARLEY_ERASURE_LOG_FILE: `${nodeA.database.dataDir}/erasures.log`,
      REDIS_URL: redisUrl,
      PARLEY_REDIS_PREFIX: prefix,
    },
  });
  await Promise.all([untilReliable(nodeA.app.services.bus), untilReliable(nodeB.app.services.bus)]);
  return {
    nodeA,
    nodeB,
    async close() {
      // Node B shares node A's schema: only node A drops it.
      await nodeB.app.shutdown();
      await nodeA.close();
    },
  };
}
