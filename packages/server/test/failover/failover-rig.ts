import { RedisProcess, ThrowawayPostgres } from './failover-services.ts';
import { NodeCluster } from './node-cluster.ts';

/**
 * What one failover suite runs on: a throw-away PostgreSQL cluster, a redis-server of its own and N nodes on
 * them. Started in `beforeAll`, closed in `afterAll` (whatever part of it started).
 */
export class FailoverRig {
  #postgres: ThrowawayPostgres | undefined;
  #redis: RedisProcess | undefined;
  #cluster: NodeCluster | undefined;

  async start(options: { nodes: number; env?: Record<string, string> }): Promise<void> {
    const [postgres, redis] = await Promise.all([ThrowawayPostgres.start(), RedisProcess.start()]);
    this.#postgres = postgres;
    this.#redis = redis;
    this.#cluster = await NodeCluster.start({
      nodes: options.nodes,
      databaseUrl: postgres.url,
      redisUrl: redis.url,
      ...(options.env ? { env: options.env } : {}),
    });
  }

  get postgres(): ThrowawayPostgres {
    if (!this.#postgres) throw new Error('the rig did not start');
    return this.#postgres;
  }

  get redis(): RedisProcess {
    if (!this.#redis) throw new Error('the rig did not start');
    return this.#redis;
  }

  get cluster(): NodeCluster {
    if (!this.#cluster) throw new Error('the rig did not start');
    return this.#cluster;
  }

  async close(): Promise<void> {
    // The whole PostgreSQL cluster goes: no schema to drop.
    await this.#cluster?.close({ dropSchema: false });
    await Promise.all([this.#redis?.stop(), this.#postgres?.destroy()]);
  }
}
