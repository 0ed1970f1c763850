import { afterAll, beforeAll, expect, it } from 'vitest';
import { leaseStore } from '../../src/jobs/lease-store.ts';
import type { Storage } from '../../src/storage/database.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { openSharedDatabase, type SharedDatabase } from './job-test-nodes.ts';

const TTL = 30_000;
const T0 = Date.UTC(2030, 0, 1);

describeEachDialect('cluster leases', (dialect) => {
  let db: SharedDatabase;
  let nodeA: Storage;
  let nodeB: Storage;

  beforeAll(async () => {
    db = await openSharedDatabase(dialect);
    nodeA = db.node();
    nodeB = db.node();
  });

  afterAll(async () => {
    await db.close();
  });

  const acquire = (storage: Storage, name: string, holder: string, now: number) =>
    storage.withSystem((tx) => leaseStore.acquire(tx, { name, holder, now, ttlMs: TTL }));

  it('gives a free lease to one holder and refuses it to another until it lapses', async () => {
    const a = await acquire(nodeA, 'lapse', 'node-a', T0);
    expect(a).toMatchObject({ holder: 'node-a', token: 1, expiresAt: T0 + TTL });
    expect(await acquire(nodeB, 'lapse', 'node-b', T0 + TTL - 1)).toBeUndefined();

    // node-a stopped renewing: once the time to live has passed, node-b takes over with a higher token.
    const b = await acquire(nodeB, 'lapse', 'node-b', T0 + TTL);
    expect(b).toMatchObject({ holder: 'node-b', token: 2 });
    if (a === undefined || b === undefined) throw new Error('unreachable');

    // The old holder can neither renew nor pass the fence any more; the new one can.
    expect(await nodeA.withSystem((tx) => leaseStore.renew(tx, a, T0 + TTL + 1, TTL))).toBeUndefined();
    expect(await nodeA.withSystem((tx) => leaseStore.holds(tx, a, dialect))).toBe(false);
    expect(await nodeB.withSystem((tx) => leaseStore.holds(tx, b, dialect))).toBe(true);
  });

  it('keeps the lease for a holder that renews it', async () => {
    const a = await acquire(nodeA, 'renewed', 'node-a', T0);
    if (a === undefined) throw new Error('not acquired');
    const renewed = await nodeA.withSystem((tx) => leaseStore.renew(tx, a, T0 + TTL / 2, TTL));
    expect(renewed).toMatchObject({ token: 1, expiresAt: T0 + TTL / 2 + TTL });
    // Past the first expiry, but within the renewed one: still node-a's.
    expect(await acquire(nodeB, 'renewed', 'node-b', T0 + TTL + 1)).toBeUndefined();
  });

  it('frees the lease at once on release, and the next token is still higher', async () => {
    const a = await acquire(nodeA, 'released', 'node-a', T0);
    if (a === undefined) throw new Error('not acquired');
    await nodeA.withSystem((tx) => leaseStore.release(tx, a));
    const b = await acquire(nodeB, 'released', 'node-b', T0 + 1);
    expect(b).toMatchObject({ holder: 'node-b', token: 2 });
    // A stale release (old token) does not free node-b's lease.
    await nodeA.withSystem((tx) => leaseStore.release(tx, a));
    expect(await acquire(nodeA, 'released', 'node-a', T0 + 2)).toBeUndefined();
  });

  it('lets exactly one of many simultaneous claimants win', async () => {
    const claimants = Array.from({ length: 12 }, (_, index) =>
      acquire(index % 2 === 0 ? nodeA : nodeB, 'contended', `node-${index}`, T0),
    );
    const grants = (await Promise.all(claimants)).filter((grant) => grant !== undefined);
    expect(grants).toHaveLength(1);
    const rows = await nodeA.withSystem((tx) => leaseStore.list(tx));
    expect(rows.find((row) => row.name === 'contended')).toMatchObject({
      holder: grants[0]?.holder,
      token: 1,
    });
  });
});
