import { setImmediate as nextTurn } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LocalBus } from '../../src/bus/local-bus.ts';
import { createMessageFanout } from '../../src/messaging/message-fanout.ts';
import type { MessageStream, SharedRead, SharedStreamPage } from '../../src/messaging/message-stream.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { DeliveryHub, type HubConnection } from '../../src/realtime/delivery-hub.ts';

/** A stream whose reads finish only when the test says so (`concurrentReads`: as the database allows). */
function controlledStream(concurrentReads = 1) {
  const reads: { reads: readonly SharedRead[]; resolve: (pages: Map<string, SharedStreamPage>) => void }[] =
    [];
  const stream = {
    sharedMany: (_tenantId: string, asked: readonly SharedRead[]) =>
      new Promise<Map<string, SharedStreamPage>>((resolve) => reads.push({ reads: asked, resolve })),
    after: () => Promise.reject(new Error('not used')),
    concurrentReads,
  } as unknown as MessageStream;
  return { stream, reads };
}

const page = (upTo: number): SharedStreamPage => ({
  items: [],
  upTo,
  more: false,
  prunedTo: 0,
  viewers: new Map(),
});

function recordingConnection(handed: string[]): HubConnection {
  return {
    signal: () => undefined,
    position: () => undefined,
    positions: () => [],
    deliverShared: (dialogId, shared) => {
      handed.push(`${dialogId}@${shared.upTo}`);
    },
  };
}

/**
 * The hub reads the streams of the dialogs that changed once for all local sockets. Reads can finish out of
 * order on PostgreSQL; a socket that got a later page of a dialog first would treat the earlier messages as
 * passed and never see them. These drive the hub with reads that finish when the test decides.
 */
describe('the delivery hub', () => {
  it('hands one dialog’s pages to sockets in the order the changes happened: a later read waits for the earlier one', async () => {
    const bus = new LocalBus();
    const fanout = createMessageFanout(bus);
    const { stream, reads } = controlledStream();
    const hub = new DeliveryHub({ fanout, stream, logger: createLogger('silent') });
    const handed: string[] = [];
    await hub.attach('tenant', 'user', recordingConnection(handed));

    await fanout.published('tenant', ['user'], { kind: 'seq', dialogId: 'dialog', seq: 1 });
    await nextTurn();
    await fanout.published('tenant', ['user'], { kind: 'seq', dialogId: 'dialog', seq: 2 });
    await nextTurn();
    await nextTurn();
    // The first read is still running; the second must wait for it rather than overtake it.
    expect(reads.map((read) => read.reads.map((one) => one.after))).toEqual([[0]]);
    reads[0]?.resolve(new Map([['dialog', page(1)]]));
    await nextTurn();
    await nextTurn();
    expect(reads.map((read) => read.reads.map((one) => one.after))).toEqual([[0], [1]]);
    reads[1]?.resolve(new Map([['dialog', page(2)]]));
    await nextTurn();
    expect(handed).toEqual(['dialog@1', 'dialog@2']);
    await bus.close();
  });

  it('reads every dialog that changed in one turn, and everything that changed during a read, in one read each', async () => {
    const bus = new LocalBus();
    const fanout = createMessageFanout(bus);
    const { stream, reads } = controlledStream();
    const hub = new DeliveryHub({ fanout, stream, logger: createLogger('silent') });
    const handed: string[] = [];
    await hub.attach('tenant', 'ann', recordingConnection(handed));
    await hub.attach('tenant', 'bob', recordingConnection(handed));

    for (const dialogId of ['d1', 'd2', 'd3'])
      await fanout.published('tenant', ['ann', 'bob'], { kind: 'seq', dialogId, seq: 1 });
    await nextTurn();
    await nextTurn();
    expect(reads).toHaveLength(1);
    expect(reads[0]?.reads.map((read) => [read.dialogId, read.after, [...read.readerIds].sort()])).toEqual([
      ['d1', 0, ['ann', 'bob']],
      ['d2', 0, ['ann', 'bob']],
      ['d3', 0, ['ann', 'bob']],
    ]);
    // While that read runs, more changes arrive: they wait, then go in one read.
    await fanout.published('tenant', ['ann'], { kind: 'seq', dialogId: 'd4', seq: 7 });
    await fanout.published('tenant', ['bob'], { kind: 'seq', dialogId: 'd5', seq: 3 });
    await nextTurn();
    expect(reads).toHaveLength(1);
    reads[0]?.resolve(new Map(['d1', 'd2', 'd3'].map((dialogId) => [dialogId, page(1)])));
    await nextTurn();
    await nextTurn();
    expect(reads).toHaveLength(2);
    expect(reads[1]?.reads.map((read) => [read.dialogId, read.after, read.readerIds])).toEqual([
      ['d4', 6, ['ann']],
      ['d5', 2, ['bob']],
    ]);
    reads[1]?.resolve(
      new Map([
        ['d4', page(7)],
        ['d5', page(3)],
      ]),
    );
    await nextTurn();
    expect(handed.sort()).toEqual(['d1@1', 'd1@1', 'd2@1', 'd2@1', 'd3@1', 'd3@1', 'd4@7', 'd5@3']);
    await bus.close();
  });
  it('starts a connection that never saw the dialog at the first change a batch announced, not its last', async () => {
    const bus = new LocalBus();
    const fanout = createMessageFanout(bus);
    const { stream, reads } = controlledStream();
    const hub = new DeliveryHub({ fanout, stream, logger: createLogger('silent') });
    await hub.attach('tenant', 'ann', recordingConnection([]));
    // One commit batch stored seqs 4, 5 and 6 in the dialog: one hint announces all three.
    await fanout.published('tenant', ['ann'], { kind: 'seq', dialogId: 'd', seq: 6, from: 4 });
    await nextTurn();
    await nextTurn();
    expect(reads[0]?.reads.map((read) => [read.dialogId, read.after])).toEqual([['d', 3]]);
    await bus.close();
  });

  /**
   * Redis may vanish at any moment: a subscription that failed (bus down while a user signs in) must not
   * stay in the hub, or every later sign-in of that user on this node would fail until a restart.
   */
  it('forgets a subscription that failed, so the next sign-in of the user subscribes again', async () => {
    const bus = new LocalBus();
    const fanout = createMessageFanout(bus);
    let failNext = true;
    const flaky: typeof fanout = {
      ...fanout,
      subscribe: (...args: Parameters<typeof fanout.subscribe>) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('bus unavailable'));
        }
        return fanout.subscribe(...args);
      },
    };
    const { stream, reads } = controlledStream();
    const hub = new DeliveryHub({ fanout: flaky, stream, logger: createLogger('silent') });
    const handed: string[] = [];
    await expect(hub.attach('tenant', 'user', recordingConnection(handed))).rejects.toThrow(
      'bus unavailable',
    );
    await hub.attach('tenant', 'user', recordingConnection(handed));
    await fanout.published('tenant', ['user'], { kind: 'seq', dialogId: 'dialog', seq: 1 });
    await nextTurn();
    await nextTurn();
    expect(reads).toHaveLength(1);
  });

  /**
   * Hints published while this node's Redis subscription was down never arrive. Once it is back, every local
   * connection reads the dialogs it follows from its own position, rather than waiting for a next change
   * that, in a quiet dialog, may never come (failover drill b).
   */
  it('catches every connection up from its positions when the bus says hints were missed', async () => {
    const bus = new LocalBus();
    const fanout = createMessageFanout(bus);
    const { stream, reads } = controlledStream();
    const hub = new DeliveryHub({ fanout, stream, logger: createLogger('silent') });
    const following = (positions: [string, number][]): HubConnection => ({
      ...recordingConnection([]),
      position: (dialogId) => new Map(positions).get(dialogId),
      positions: () => positions,
    });
    await hub.attach(
      'tenant',
      'ann',
      following([
        ['d1', 7],
        ['d2', 3],
      ]),
    );
    await hub.attach('tenant', 'bob', following([['d1', 5]]));
    await hub.attach('tenant', 'cem', following([]));
    hub.catchUp();
    await nextTurn();
    await nextTurn();
    expect(reads).toHaveLength(1);
    const asked = reads[0]?.reads.map((read) => [read.dialogId, read.after, [...read.readerIds].sort()]);
    expect(asked).toEqual([
      ['d1', 5, ['ann', 'bob']],
      ['d2', 3, ['ann']],
    ]);
    await bus.close();
  });

  /**
   * A read that fails (the database away) left its sockets with nothing; without a retry they would wait for
   * the dialog's next change, in a quiet dialog for ever (failover drill c). The hub reads them again later.
   */
  it('reads again, a moment later, what a failed read did not hand over', async () => {
    const bus = new LocalBus();
    const fanout = createMessageFanout(bus);
    const { stream, reads } = controlledStream();
    let failing = true;
    const flaky = {
      ...stream,
      sharedMany: (...args: Parameters<MessageStream['sharedMany']>) =>
        failing ? Promise.reject(new Error('database away')) : stream.sharedMany(...args),
    };
    const hub = new DeliveryHub({ fanout, stream: flaky, logger: createLogger('silent'), retryReadMs: 20 });
    const handed: string[] = [];
    await hub.attach('tenant', 'user', recordingConnection(handed));
    await fanout.published('tenant', ['user'], { kind: 'seq', dialogId: 'dialog', seq: 4 });
    await nextTurn();
    await nextTurn();
    expect(reads).toHaveLength(0);
    failing = false;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(reads.map((read) => read.reads.map((one) => [one.dialogId, one.after]))).toEqual([
      [['dialog', 3]],
    ]);
    reads[0]?.resolve(new Map([['dialog', page(4)]]));
    await nextTurn();
    expect(handed).toEqual(['dialog@4']);
    await bus.close();
  });

  /**
   * On PostgreSQL reads run side by side. One slow read (a dialog row locked, a cold page) must not hold up
   * the tenant's other dialogs, and a dialog must still never be in two reads at once: a socket handed a later
   * page first would skip the earlier messages.
   */
  describe('where the database runs reads side by side', () => {
    async function twoReadersHub(readOverlap: { minWaiting: number; afterMs: number }) {
      const bus = new LocalBus();
      const fanout = createMessageFanout(bus);
      const { stream, reads } = controlledStream(2);
      const hub = new DeliveryHub({ fanout, stream, logger: createLogger('silent'), readOverlap });
      const handed: string[] = [];
      await hub.attach('tenant', 'user', recordingConnection(handed));
      const change = (dialogId: string, seq: number) =>
        fanout.published('tenant', ['user'], { kind: 'seq', dialogId, seq });
      const asked = () => reads.map((read) => read.reads.map((one) => `${one.dialogId}>${one.after}`));
      return { bus, reads, handed, change, asked };
    }

    it('starts a read of other dialogs beside a slow one, while the slow dialog’s next change waits for it', async () => {
      const { bus, reads, handed, change, asked } = await twoReadersHub({ minWaiting: 1000, afterMs: 15 });
      await change('slow', 1);
      await nextTurn();
      await nextTurn();
      expect(asked()).toEqual([['slow>0']]);
      await change('slow', 2);
      await change('other', 1);
      await nextTurn();
      // Within `afterMs` of the first read's start, changes gather for the next read.
      expect(asked()).toEqual([['slow>0']]);
      await new Promise((resolve) => setTimeout(resolve, 40));
      // The first read has run long: a second starts, without the dialog the first one holds.
      expect(asked()).toEqual([['slow>0'], ['other>0']]);
      reads[1]?.resolve(new Map([['other', page(1)]]));
      await nextTurn();
      expect(handed).toEqual(['other@1']);
      expect(reads).toHaveLength(2);
      reads[0]?.resolve(new Map([['slow', page(1)]]));
      await nextTurn();
      await nextTurn();
      expect(asked()).toEqual([['slow>0'], ['other>0'], ['slow>1']]);
      reads[2]?.resolve(new Map([['slow', page(2)]]));
      await nextTurn();
      expect(handed).toEqual(['other@1', 'slow@1', 'slow@2']);
      await bus.close();
    });

    it('starts a second read at once when enough dialogs wait, and never a third beyond the limit', async () => {
      const { bus, reads, change, asked } = await twoReadersHub({ minWaiting: 2, afterMs: 60_000 });
      await change('d1', 1);
      await nextTurn();
      await nextTurn();
      await change('d2', 1);
      await nextTurn();
      await nextTurn();
      // One dialog waiting, under `minWaiting` and long before `afterMs`: no second read yet.
      expect(asked()).toEqual([['d1>0']]);
      await change('d3', 1);
      await nextTurn();
      await nextTurn();
      expect(asked()).toEqual([['d1>0'], ['d2>0', 'd3>0']]);
      for (const dialogId of ['d4', 'd5', 'd6']) await change(dialogId, 1);
      await nextTurn();
      await nextTurn();
      expect(reads).toHaveLength(2);
      reads[0]?.resolve(new Map([['d1', page(1)]]));
      await nextTurn();
      await nextTurn();
      expect(asked()[2]).toEqual(['d4>0', 'd5>0', 'd6>0']);
      await bus.close();
    });

    it('keeps each dialog’s pages in order under random read completion (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.nat(3)), { minLength: 1, maxLength: 25 }),
          async (steps) => {
            const { bus, reads, handed, change } = await twoReadersHub({ minWaiting: 1, afterMs: 0 });
            const seqs = new Map<string, number>();
            const answered = new Set<number>();
            const answer = (index: number) => {
              const read = reads[index];
              if (!read || answered.has(index)) return;
              answered.add(index);
              read.resolve(
                new Map(read.reads.map((one) => [one.dialogId, page(seqs.get(one.dialogId) ?? 0)])),
              );
            };
            for (const [dialogId, pick] of steps) {
              const seq = (seqs.get(dialogId) ?? 0) + 1;
              seqs.set(dialogId, seq);
              await change(dialogId, seq);
              await nextTurn();
              await nextTurn();
              const open = reads.map((_, index) => index).filter((index) => !answered.has(index));
              // Two reads in flight at most, and no dialog in both.
              expect(open.length).toBeLessThanOrEqual(2);
              const inFlight = open.flatMap((index) => reads[index]?.reads.map((one) => one.dialogId) ?? []);
              expect(new Set(inFlight).size).toBe(inFlight.length);
              // Answer one of the open reads (the later one first, at times), or none yet.
              const chosen = open[pick];
              if (chosen !== undefined) answer(chosen);
            }
            for (let round = 0; round < 20; round += 1) {
              for (let index = 0; index < reads.length; index += 1) answer(index);
              await nextTurn();
              await nextTurn();
            }
            // Every dialog's pages arrived in increasing order and reached its last change.
            for (const [dialogId, last] of seqs) {
              const pages = handed
                .filter((entry) => entry.startsWith(`${dialogId}@`))
                .map((entry) => Number(entry.split('@')[1]));
              expect(pages).toEqual([...pages].sort((x, y) => x - y));
              expect(pages.at(-1)).toBe(last);
            }
            await bus.close();
          },
        ),
        { numRuns: 60 },
      );
    });
  });
});
