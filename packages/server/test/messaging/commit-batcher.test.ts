import fc from 'fast-check';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { type BatchOutcome, createCommitBatcher } from '../../src/messaging/commit-batcher.ts';

/**
 * The batcher's promises, for any arrival pattern: every piece settles once, with its own outcome; a key's
 * pieces commit in submission order and never in two batches at once; no more than `maxInFlight` batches of a
 * tenant commit at the same time; and batches of disjoint keys do overlap when allowed (the point of it).
 */

interface Piece {
  key: string;
  id: number;
}

/** A commit that records what ran, and when, and finishes after `delayTurns` event-loop turns. */
function recordingCommit(delayTurns: (batch: readonly Piece[]) => number) {
  const log = {
    committedOrder: new Map<string, number[]>(),
    running: [] as Set<string>[],
    maxRunning: 0,
    overlapped: false,
    keyInTwoBatches: false,
  };
  const commit = async (_tenantId: string, pieces: readonly Piece[]): Promise<BatchOutcome<number>[]> => {
    const keys = new Set(pieces.map((piece) => piece.key));
    if (log.running.some((other) => [...keys].some((key) => other.has(key)))) log.keyInTwoBatches = true;
    log.running.push(keys);
    log.maxRunning = Math.max(log.maxRunning, log.running.length);
    if (log.running.length > 1) log.overlapped = true;
    for (let turn = 0; turn < delayTurns(pieces); turn += 1) await nextTurn();
    log.running.splice(log.running.indexOf(keys), 1);
    for (const piece of pieces) {
      const order = log.committedOrder.get(piece.key) ?? [];
      order.push(piece.id);
      log.committedOrder.set(piece.key, order);
    }
    return pieces.map((piece) => ({ ok: true, value: piece.id }));
  };
  return { log, commit };
}

describe('commit batcher', () => {
  it('keeps every key in submission order, one batch per key at a time, at most maxInFlight at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd', 'e'), gapTurns: fc.nat(2) }), {
          minLength: 1,
          maxLength: 80,
        }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 7 }),
        fc.nat(3),
        async (arrivals, maxInFlight, maxBatch, delay) => {
          const { log, commit } = recordingCommit((batch) => delay + (batch.length % 2));
          const batcher = createCommitBatcher<Piece, number>({
            maxBatch,
            commit,
            keyOf: (piece) => piece.key,
            maxInFlight,
          });
          const results: Promise<number>[] = [];
          for (const [id, { key, gapTurns }] of arrivals.entries()) {
            results.push(batcher.submit('tenant', { key, id }));
            for (let turn = 0; turn < gapTurns; turn += 1) await nextTurn();
          }
          expect(await Promise.all(results)).toEqual(arrivals.map((_, id) => id));
          expect(log.keyInTwoBatches).toBe(false);
          expect(log.maxRunning).toBeLessThanOrEqual(maxInFlight);
          for (const [key, order] of log.committedOrder) {
            const submitted = arrivals.flatMap((arrival, id) => (arrival.key === key ? [id] : []));
            expect(order).toEqual(submitted);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('commits batches of disjoint keys at the same time, and one key never beside itself', async () => {
    const { log, commit } = recordingCommit(() => 3);
    const batcher = createCommitBatcher<Piece, number>({
      maxBatch: 1,
      commit,
      keyOf: (p) => p.key,
      maxInFlight: 4,
    });
    await Promise.all([0, 1, 2, 3].map((id) => batcher.submit('tenant', { key: `k${id}`, id })));
    expect(log.maxRunning).toBe(4);

    const same = recordingCommit(() => 3);
    const serial = createCommitBatcher<Piece, number>({
      maxBatch: 1,
      commit: same.commit,
      keyOf: (p) => p.key,
      maxInFlight: 4,
    });
    await Promise.all([0, 1, 2, 3].map((id) => serial.submit('tenant', { key: 'one', id })));
    expect(same.log.maxRunning).toBe(1);
    expect(same.log.committedOrder.get('one')).toEqual([0, 1, 2, 3]);
  });

  it('without keys, runs one batch at a time (as SQLite needs)', async () => {
    const { log, commit } = recordingCommit(() => 2);
    const batcher = createCommitBatcher<Piece, number>({ maxBatch: 2, commit });
    await Promise.all([0, 1, 2, 3, 4].map((id) => batcher.submit('tenant', { key: `k${id}`, id })));
    expect(log.overlapped).toBe(false);
  });

  it('a failed batch is retried piece by piece while its keys stay held', async () => {
    const held: string[] = [];
    let running = new Set<string>();
    const batcher = createCommitBatcher<Piece, number>({
      maxBatch: 10,
      maxInFlight: 4,
      keyOf: (piece) => piece.key,
      commit: async (_tenant, pieces) => {
        for (const piece of pieces) if (running.has(piece.key)) held.push(piece.key);
        running = new Set([...running, ...pieces.map((piece) => piece.key)]);
        await nextTurn();
        for (const piece of pieces) running.delete(piece.key);
        if (pieces.some((piece) => piece.id === 1)) throw new Error('poisoned');
        return pieces.map((piece) => ({ ok: true, value: piece.id }));
      },
    });
    const first = [0, 1, 2].map((id) => batcher.submit('tenant', { key: 'a', id }));
    await nextTurn();
    await nextTurn();
    const later = batcher.submit('tenant', { key: 'a', id: 3 });
    const settled = await Promise.allSettled([...first, later]);
    expect(settled.map((result) => result.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(held).toEqual([]);
  });
  it('starts a batch beside one in flight only once enough waits, or once the one in flight has run long', async () => {
    const started: { ids: number[]; at: number }[] = [];
    const release: (() => void)[] = [];
    const batcher = createCommitBatcher<Piece, number>({
      maxBatch: 100,
      maxInFlight: 4,
      keyOf: (piece) => piece.key,
      overlap: { minWaiting: 3, afterMs: 40 },
      commit: async (_tenant, pieces) => {
        started.push({ ids: pieces.map((piece) => piece.id), at: performance.now() });
        await new Promise<void>((resolve) => release.push(resolve));
        return pieces.map((piece) => ({ ok: true, value: piece.id }));
      },
    });
    const t0 = performance.now();
    const all = [batcher.submit('tenant', { key: 'a', id: 0 })];
    await nextTurn();
    await nextTurn();
    // One waits beside the batch in flight: it gathers, and starts only when that batch has run 40 ms.
    all.push(batcher.submit('tenant', { key: 'b', id: 1 }));
    await new Promise((resolve) => setTimeout(resolve, 15));
    expect(started.map((batch) => batch.ids)).toEqual([[0]]);
    all.push(batcher.submit('tenant', { key: 'c', id: 2 }), batcher.submit('tenant', { key: 'd', id: 3 }));
    await nextTurn();
    await nextTurn();
    // Three wait now: they start at once, together, beside the first.
    expect(started.map((batch) => batch.ids)).toEqual([[0], [1, 2, 3]]);
    all.push(batcher.submit('tenant', { key: 'e', id: 4 }));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(started.map((batch) => batch.ids)).toEqual([[0], [1, 2, 3], [4]]);
    expect((started[2]?.at ?? 0) - t0).toBeGreaterThanOrEqual(39);
    for (const done of release.splice(0)) done();
    await nextTurn();
    for (const done of release.splice(0)) done();
    expect(await Promise.all(all)).toEqual([0, 1, 2, 3, 4]);
  });
});
