import { describe, expect, it } from 'vitest';
import type { Bus } from '../../src/bus/bus.ts';
import { LocalBus } from '../../src/bus/local-bus.ts';
import { createMessageFanout, type UserHint } from '../../src/messaging/message-fanout.ts';

/** A bus whose publishing side can be cut, as a node's Redis publisher connection is while Redis is away. */
function cuttableBus(inner: LocalBus): Bus & { down: boolean } {
  const bus = {
    down: false,
    publish: (channel: string, message: string) =>
      bus.down ? Promise.reject(new Error('Connection is closed.')) : inner.publish(channel, message),
    subscribe: inner.subscribe.bind(inner),
    get reliable() {
      return inner.reliable;
    },
    onReliabilityChange: inner.onReliabilityChange.bind(inner),
    close: inner.close.bind(inner),
  };
  return bus;
}

const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * A node whose Redis publisher is down cannot announce its commits; if the other nodes are already back
 * (resubscribed, caught up), nothing would tell them about those commits until the dialog's next change.
 * The fan-out keeps the unsent change hints and publishes them once it can (failover drill b).
 */
describe('message fan-out while publishing fails', () => {
  it('publishes a change hint that could not be sent once the bus takes it, merged per dialog; signals are not kept', async () => {
    const inner = new LocalBus();
    const bus = cuttableBus(inner);
    const fanout = createMessageFanout(bus, { retryUnsentMs: 20 });
    const received: UserHint[] = [];
    await fanout.subscribe('tenant', 'bob', (hint) => received.push(hint));

    bus.down = true;
    await fanout.published('tenant', ['bob'], { kind: 'seq', dialogId: 'd1', seq: 5 });
    await fanout.published('tenant', ['bob'], { kind: 'seq', dialogId: 'd1', seq: 7, from: 6 });
    await fanout.published('tenant', ['bob'], { kind: 'seq', dialogId: 'd2', seq: 2 });
    await fanout.published('tenant', ['bob'], {
      kind: 'typing',
      dialogId: 'd1',
      userId: 'ann',
      state: 'started',
    });
    await pause(60);
    expect(received).toEqual([]);

    bus.down = false;
    await pause(60);
    expect(received).toEqual([
      { kind: 'seq', dialogId: 'd1', seq: 7, from: 5 },
      { kind: 'seq', dialogId: 'd2', seq: 2 },
    ]);
    // Sent once: nothing is left to send again.
    await pause(60);
    expect(received).toHaveLength(2);
    await inner.close();
  });
});
