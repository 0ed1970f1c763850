import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LocalBus } from '../../src/bus/local-bus.ts';
import { createMessageFanout } from '../../src/messaging/message-fanout.ts';
import type { MessageStream, SharedStreamPage } from '../../src/messaging/message-stream.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { DeliveryHub, type HubConnection } from '../../src/realtime/delivery-hub.ts';

/**
 * The hub reads a dialog's stream once per change for all local sockets. Reads of one dialog can finish out
 * of order on PostgreSQL; a socket that got a later page first would treat the earlier messages as passed and
 * never see them. This drives the hub with reads that finish in reverse order.
 */
describe('the delivery hub', () => {
  it('hands one dialog’s pages to sockets in the order the changes happened, whatever order the reads finish in', async () => {
    const bus = new LocalBus();
    const fanout = createMessageFanout(bus);
    const reads: { after: number; resolve: (page: SharedStreamPage) => void }[] = [];
    const stream = {
      shared: (_tenantId: string, _dialogId: string, after: number) =>
        new Promise<SharedStreamPage>((resolve) => reads.push({ after, resolve })),
      after: () => Promise.reject(new Error('not used')),
    } as unknown as MessageStream;
    const hub = new DeliveryHub({ fanout, stream, logger: createLogger('silent') });
    const handed: number[] = [];
    const connection: HubConnection = {
      signal: () => undefined,
      position: () => undefined,
      deliverShared: (_dialogId, page) => {
        handed.push(page.upTo);
      },
    };
    await hub.attach('tenant', 'user', connection);
    const page = (upTo: number): SharedStreamPage => ({ items: [], upTo, more: false, viewers: new Map() });

    await fanout.published('tenant', ['user'], { kind: 'seq', dialogId: 'dialog', seq: 1 });
    await nextTurn();
    await fanout.published('tenant', ['user'], { kind: 'seq', dialogId: 'dialog', seq: 2 });
    await nextTurn();
    await nextTurn();
    // The first read is still running; the second must wait for it rather than overtake it.
    expect(reads.map((read) => read.after)).toEqual([0]);
    reads[0]?.resolve(page(1));
    await nextTurn();
    await nextTurn();
    expect(reads.map((read) => read.after)).toEqual([0, 1]);
    reads[1]?.resolve(page(2));
    await nextTurn();
    expect(handed).toEqual([1, 2]);
    await bus.close();
  });
});
