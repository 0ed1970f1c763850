import { afterAll, beforeAll, expect, it } from 'vitest';
import { seededRandom } from '../support/dialog-stream-client.ts';
import { describeFailover } from './failover-services.ts';
import { FailoverRig } from './failover-rig.ts';
import { type FailoverTenant, newFailoverTenant } from './failover-tenant.ts';
import { LoadGenerator } from './load-generator.ts';
import { spread } from './stream-checker.ts';

const long = process.env.PARLEY_FAILOVER_LONG === '1';
const CYCLES = long ? 100 : 20;
const CYCLE_MS = 1500;
const RATE = long ? 40 : 20;
const MEMBERS = 5;
/** `PARLEY_FAILOVER_SEED=<n>` replays one kill schedule; otherwise a fresh seed, printed. */
const seed = Number(process.env.PARLEY_FAILOVER_SEED ?? Math.floor(Math.random() * 2 ** 31));

const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Issue 15 §5a: three nodes on PostgreSQL + Redis, clients spread over them sending at a fixed rate; every
 * cycle a random node is SIGKILLed (mid-commit, mid-write: no shutdown hook runs) and started again. The
 * clients it held reconnect to another node and resume. Afterwards: every acked message is in the database
 * at the seq its ack named, no client id is stored twice, and every client's stream — off the wire and as
 * the SDK handed it on — is the whole history, each change once, in order.
 */
describeFailover('nodes SIGKILLed under load lose nothing', () => {
  const rig = new FailoverRig();
  let tenant: FailoverTenant;

  beforeAll(async () => {
    await rig.start({ nodes: 3 });
    tenant = await newFailoverTenant(rig.cluster, MEMBERS);
  });

  afterAll(async () => {
    await rig.close();
  });

  it(
    `keeps every acked message, without duplicates, gaps or reordering, through ${CYCLES} SIGKILLs`,
    async () => {
      const random = seededRandom(seed);
      const { cluster } = rig;
      const load = new LoadGenerator(cluster, tenant, { ratePerSecond: RATE, label: `kill-${seed}` });
      await load.start();
      const restartTimes: number[] = [];
      const killed: number[] = [];
      try {
        for (let cycle = 0; cycle < CYCLES; cycle += 1) {
          const began = Date.now();
          const victim = Math.floor(random() * cluster.size);
          killed.push(victim);
          await cluster.kill(victim);
          const restarting = Date.now();
          await cluster.startNode(victim);
          restartTimes.push(Date.now() - restarting);
          await pause(Math.max(0, CYCLE_MS - (Date.now() - began)));
        }
      } finally {
        load.stopSending();
      }
      const report = await load.check(60_000);
      const seconds = (load.stoppedAt - load.startedAt) / 1000;
      const reconnects = spread(load.reconnectTimes());
      const restarts = spread(restartTimes);
      console.info(
        [
          `failover drill (a) [seed ${seed}, replay with PARLEY_FAILOVER_SEED=${seed}]:`,
          `${CYCLES} SIGKILL cycles of ~${CYCLE_MS} ms over ${seconds.toFixed(1)} s, 3 nodes, ${load.clients.length} clients, ${RATE} sends/s`,
          `${report.messages} messages, ${report.acked} acked, ${load.errors.length} send errors retried`,
          `lost ${report.lost}, duplicates ${report.duplicates}, gaps ${report.gaps}, reordered ${report.reordered}, mismatched ${report.mismatched}, unacked ${report.unacked}`,
          `reconnects ${reconnects.count}: p50 ${reconnects.p50} ms, p95 ${reconnects.p95} ms, max ${reconnects.max} ms`,
          `node restart to listening: p50 ${restarts.p50} ms, max ${restarts.max} ms`,
        ].join('\n  '),
      );
      load.close();
      expect(report.problems).toEqual([]);
      expect(report).toMatchObject({
        lost: 0,
        duplicates: 0,
        gaps: 0,
        reordered: 0,
        mismatched: 0,
        unacked: 0,
      });
      expect(report.messages).toBe(load.sentAt.size);
      // The drill really moved clients: kills cut connections (one of a node holding no client cuts none),
      // and they came back elsewhere.
      expect(reconnects.count).toBeGreaterThan(CYCLES / 4);
    },
    (long ? 900 : 150) * 1000,
  );
});
