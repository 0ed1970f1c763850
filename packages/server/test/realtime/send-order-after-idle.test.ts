import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { json, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { openSocket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

const BURST = 30;
/** Longer than the tenant stage cache (tenant-close-service.ts): the burst's first sends find it expired. */
const IDLE_MS = 2300;

/**
 * A burst of sends on one socket is stored in the order sent even when it comes after a quiet spell: what a
 * client's queue does when it sends everything typed during an outage at once after reconnecting. Each send
 * checks that the tenant takes writes before it reaches the commit batcher; with that check's cache expired,
 * every send of the burst looked the tenant up on its own, and on PostgreSQL (a pool of connections) the
 * lookups came back in any order, so sends reached the batcher, and got their sequence numbers, out of order.
 */
describeEachDialect('a burst of sends after a quiet spell', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let dialogId: string;

  beforeAll(async () => {
    server = await startTestServer({ dialect, env: { PARLEY_REALTIME_FRAMES_PER_SECOND: '10000' } });
    owner = await newTenantOwner(server, 'Quiet Clinic');
    const created = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Quiet', memberIds: [] }, owner.accessToken),
    );
    dialogId = created.json<{ id: string }>().id;
  });

  afterAll(async () => {
    await server.close();
  });

  it('is stored and acknowledged in the order sent', async () => {
    const sender = await openSocket(server, owner.accessToken);
    for (let round = 0; round < 3; round += 1) {
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      const ids = Array.from({ length: BURST }, (_, index) => `round-${round}-${index}`);
      for (const id of ids) sender.send({ type: 'message.send', id, dialogId, body: id });
      const acks = await Promise.all(
        ids.map((id) => sender.next((frame) => frame.type === 'ack' && frame.id === id)),
      );
      const seqs = acks.map((ack) => ack.seq as number);
      expect(seqs, `round ${round}`).toEqual([...seqs].sort((a, b) => a - b));
    }
    const history = await server.request(`/v1/dialogs/${dialogId}/messages?limit=100`, {
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    const bodies = history
      .json<{ messages: { body: string; seq: number }[] }>()
      .messages.sort((a, b) => a.seq - b.seq)
      .map((message) => message.body);
    expect(bodies).toEqual(
      Array.from({ length: 3 }, (_, round) =>
        Array.from({ length: BURST }, (__, index) => `round-${round}-${index}`),
      ).flat(),
    );
  });
});
