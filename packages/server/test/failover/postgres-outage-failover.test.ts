import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeFailover } from './failover-services.ts';
import { FailoverRig } from './failover-rig.ts';
import { newFailoverTenant } from './failover-tenant.ts';
import { LoadGenerator } from './load-generator.ts';
import { spread } from './stream-checker.ts';

const long = process.env.PARLEY_FAILOVER_LONG === '1';
const RATE = 20;
const MEMBERS = 5;
const OUTAGES = long ? 5 : 1;
const OUTAGE_MS = long ? 8000 : 3000;
const BEFORE_MS = 2000;
const AFTER_MS = 4000;
/** Once PostgreSQL is back, what was sent meanwhile (retried by the clients) is committed this soon. */
const WRITES_BACK_MS = 10_000;

const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Issue 15 §5c: the database stopped dead (`pg_ctl stop -m immediate`: no checkpoint, every backend killed,
 * crash recovery at the next start) under load on three nodes, then started again. While it is away,
 * clients get errors, never an ack (an ack names a commit); the nodes keep running and, once it is back,
 * take writes again by themselves — the clients' retries (same client ids) commit once each. Afterwards
 * every ack is in the database at its seq and every client's stream is the whole history.
 */
describeFailover('PostgreSQL stopped -m immediate under load loses no acked message', () => {
  const rig = new FailoverRig();

  beforeAll(async () => {
    await rig.start({ nodes: 3 });
  });

  afterAll(async () => {
    await rig.close();
  });

  it(
    'answers errors, never a false ack, while PostgreSQL is down, and resumes writes by itself',
    async () => {
      const { cluster, postgres } = rig;
      const tenant = await newFailoverTenant(cluster, MEMBERS);
      const load = new LoadGenerator(cluster, tenant, { ratePerSecond: RATE, label: 'pg-stop' });
      await load.start();
      const outages: { stoppedAt: number; startedAt: number }[] = [];
      const writesBack: number[] = [];
      try {
        for (let outage = 0; outage < OUTAGES; outage += 1) {
          await pause(BEFORE_MS);
          const stoppedAt = Date.now();
          await postgres.stopImmediately();
          await pause(OUTAGE_MS);
          await postgres.restart();
          const startedAt = Date.now();
          outages.push({ stoppedAt, startedAt });
          // Writes are back when a send made while the database was away is acked.
          const deadline = startedAt + WRITES_BACK_MS;
          for (;;) {
            const first = [...load.acks.entries()].find(
              ([clientId, ack]) => ack.at >= startedAt && (load.sentAt.get(clientId) ?? 0) < startedAt,
            );
            if (first) {
              writesBack.push(first[1].at - startedAt);
              break;
            }
            if (Date.now() > deadline)
              throw new Error(`no write acked ${WRITES_BACK_MS} ms after PostgreSQL returned`);
            await pause(50);
          }
        }
        await pause(AFTER_MS);
      } finally {
        load.stopSending();
      }
      const report = await load.check(30_000);
      const down = (at: number) => outages.some((window) => at > window.stoppedAt && at < window.startedAt);
      const errorsWhileDown = load.errors.filter((error) => down(error.at));
      const acksWhileDown = [...load.acks.values()].filter((ack) => down(ack.at));
      const errorCodes = [...new Set(load.errors.map((error) => error.code))].sort();
      const reconnects = spread(load.reconnectTimes());
      console.info(
        [
          `failover drill (c) PostgreSQL stop -m immediate: ${OUTAGES} × ${OUTAGE_MS} ms, 3 nodes, ${load.clients.length} clients, ${RATE} sends/s`,
          `${report.messages} messages, ${report.acked} acked; while down: ${errorsWhileDown.length} send errors (${errorCodes.join(', ')}), ${acksWhileDown.length} acks`,
          `lost ${report.lost}, duplicates ${report.duplicates}, gaps ${report.gaps}, reordered ${report.reordered}, mismatched ${report.mismatched}, unacked ${report.unacked}`,
          `first retried write acked after PostgreSQL was back: ${writesBack.join(', ')} ms`,
          `reconnects ${reconnects.count}: p50 ${reconnects.p50} ms, max ${reconnects.max} ms`,
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
      expect(errorsWhileDown.length, 'clients were told their sends failed').toBeGreaterThan(0);
      // No node died of it: the same processes serve on.
      for (let index = 0; index < cluster.size; index += 1) {
        expect(cluster.isLive(index), `node ${index}: ${cluster.output(index).slice(-2000)}`).toBe(true);
        expect(cluster.starts(index)).toBe(1);
      }
    },
    (long ? 300 : 120) * 1000,
  );
});
