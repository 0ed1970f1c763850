import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeFailover } from './failover-services.ts';
import { FailoverRig } from './failover-rig.ts';
import { newFailoverTenant } from './failover-tenant.ts';
import { LoadGenerator } from './load-generator.ts';
import { spread } from './stream-checker.ts';

const long = process.env.PARLEY_FAILOVER_LONG === '1';
const RATE = 20;
const MEMBERS = 5;
const OUTAGE_MS = long ? 10_000 : 3000;
const BEFORE_MS = 2000;
const AFTER_MS = long ? 10_000 : 6000;
/** The promise: live fan-out works again this soon after Redis answers again. */
const FANOUT_BACK_MS = 5000;

const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Issue 15 §5b: Redis carries only hints (fan-out between nodes, presence, counters); the database is the
 * record. With Redis killed for a while, or emptied by FLUSHALL, under load on three nodes: every ack still
 * names a committed message (the checker finds each at its acked seq), nothing is lost or doubled in any
 * client's stream, and live fan-out between nodes works again within 5 s of Redis answering again.
 */
describeFailover('Redis killed or flushed under load loses nothing', () => {
  const rig = new FailoverRig();

  beforeAll(async () => {
    await rig.start({ nodes: 3 });
  });

  afterAll(async () => {
    await rig.close();
  });

  it('keeps every acked message through a Redis SIGKILL and restart; what was sent while it was away reaches every client within 5 s of its return, with nothing sent after', async () => {
    const { cluster, redis } = rig;
    const tenant = await newFailoverTenant(cluster, MEMBERS);
    const load = new LoadGenerator(cluster, tenant, { ratePerSecond: RATE, label: 'redis-kill' });
    await load.start();
    await pause(BEFORE_MS);
    const killedAt = Date.now();
    await redis.kill();
    await pause(OUTAGE_MS);
    // The last sends are those made while Redis is away: no later send's hint can carry their delivery.
    load.stopSending();
    await load.drain(30_000);
    const ackedDuringOutage = [...load.acks.values()].filter((ack) => ack.at > killedAt).length;
    const lastSeq = Math.max(...[...load.acks.values()].map((ack) => ack.seq));
    await redis.restart();
    const returnedAt = Date.now();
    const caughtUp = await load.delivered(lastSeq, FANOUT_BACK_MS).then(
      () => Date.now() - returnedAt,
      (error: unknown) => error as Error,
    );
    // And live fan-out between nodes goes on.
    const liveFrom = Date.now();
    load.startSending();
    await pause(AFTER_MS);
    load.stopSending();
    const report = await load.check(30_000);
    const live = load.firstDeliveryOfSendsFrom(liveFrom).map((at) => at - liveFrom);
    const reconnects = spread(load.reconnectTimes());
    console.info(
      [
        `failover drill (b) Redis SIGKILL: ${OUTAGE_MS} ms away, 3 nodes, ${load.clients.length} clients, ${RATE} sends/s`,
        `${report.messages} messages, ${report.acked} acked (${ackedDuringOutage} while Redis was away), ${load.errors.length} send errors retried`,
        `lost ${report.lost}, duplicates ${report.duplicates}, gaps ${report.gaps}, reordered ${report.reordered}, mismatched ${report.mismatched}, unacked ${report.unacked}`,
        `every client had what was sent while Redis was away: ${caughtUp instanceof Error ? caughtUp.message : `${caughtUp} ms after Redis returned`}`,
        `first live delivery after that: ${Math.max(...live)} ms at the slowest client`,
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
    expect(ackedDuringOutage).toBeGreaterThan(0);
    expect(caughtUp, 'delivery of what was sent while Redis was away').not.toBeInstanceOf(Error);
    for (const delay of live) expect(delay).toBeLessThanOrEqual(FANOUT_BACK_MS);
  }, 120_000);

  it('keeps every acked message through a FLUSHALL under load; fan-out goes on', async () => {
    const { cluster, redis } = rig;
    const tenant = await newFailoverTenant(cluster, MEMBERS);
    const load = new LoadGenerator(cluster, tenant, { ratePerSecond: RATE, label: 'redis-flush' });
    await load.start();
    await pause(BEFORE_MS);
    const admin = new Redis(redis.url);
    const flushedAt = Date.now();
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    await pause(AFTER_MS);
    load.stopSending();
    const report = await load.check(30_000);
    const fanout = load.firstDeliveryOfSendsFrom(flushedAt).map((at) => at - flushedAt);
    console.info(
      [
        `failover drill (b) Redis FLUSHALL: 3 nodes, ${load.clients.length} clients, ${RATE} sends/s`,
        `${report.messages} messages, ${report.acked} acked, ${load.errors.length} send errors retried`,
        `lost ${report.lost}, duplicates ${report.duplicates}, gaps ${report.gaps}, reordered ${report.reordered}, mismatched ${report.mismatched}, unacked ${report.unacked}`,
        `first live delivery after the flush: ${Math.max(...fanout)} ms at the slowest client`,
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
    for (const delay of fanout) expect(delay).toBeLessThanOrEqual(FANOUT_BACK_MS);
  }, 120_000);
});
