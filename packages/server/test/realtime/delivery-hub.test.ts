import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LocalBus } from '../../src/bus/local-bus.ts';
import { createMessageFanout } from '../../src/messaging/message-fanout.ts';
import type { MessageStream, SharedRead, SharedStreamPage } from '../../src/messaging/message-stream.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { DeliveryHub, type HubConnection } from '../../src/realtime/delivery-hub.ts';

/** A stream whose reads finish only when the test says so. */
function controlledStream() {
  const reads: { reads: readonly SharedRead[]; resolve: (pages: Map<string, SharedStreamPage>) => void }[] =
    [];
  const stream = {
    sharedMany: (_tenantId: string, asked: readonly SharedRead[]) =>
      new Promise<Map<string, SharedStreamPage>>((resolve) => reads.push({ reads: asked, resolve })),
    after: () => Promise.reject(new Error('not used')),
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
});
