import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { type Frame, openSocket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

const BURST = 40;

/**
 * One socket's sends are pipelined: the next frame is read while earlier sends wait for their commit, so a
 * burst shares transactions instead of paying a commit each. What must hold as before: every send is
 * acknowledged after its commit, in the order sent, with sequence numbers in that order; a refused send in
 * the middle refuses only itself; and a frame of another kind sees every earlier send committed.
 */
describeEachDialect('a socket’s sends are pipelined', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let bob: { userId: string; token: string };
  let dialogId: string;
  let foreignDialogId: string;

  beforeAll(async () => {
    server = await startTestServer({ dialect, env: { PARLEY_REALTIME_FRAMES_PER_SECOND: '10000' } });
    owner = await newTenantOwner(server, 'Pipeline Clinic');
    const password = 'lantern over the quiet harbour';
    const created = await server.request(
      '/v1/users',
      json({ displayName: 'Bob', email: 'bob@pipe.example', password, roles: ['member'] }, owner.accessToken),
    );
    bob = {
      userId: created.json<{ userId: string }>().userId,
      token: (await signIn(server, owner.tenantId, 'bob@pipe.example', password, 'profile chat')).accessToken,
    };
    const dialog = (body: unknown, token: string) =>
      server.request('/v1/dialogs', json(body, token)).then((response) => response.json<{ id: string }>().id);
    dialogId = await dialog({ type: 'group', name: 'Pipe', memberIds: [bob.userId] }, owner.accessToken);
    // A dialog Bob made without the owner: the owner's send there is refused.
    foreignDialogId = await dialog({ type: 'group', name: 'Not yours', memberIds: [] }, bob.token);
  });

  afterAll(async () => {
    await server.close();
  });

  it('commits a burst in few transactions, acknowledged and delivered in the order sent', async () => {
    const sender = await openSocket(server, owner.accessToken);
    const receiver = await openSocket(server, bob.token);
    const storage = server.app.storage;
    const withTenant = storage.withTenant.bind(storage);
    let transactions = 0;
    storage.withTenant = (tenantId, work) => {
      transactions += 1;
      return withTenant(tenantId, work);
    };
    try {
      const ids = Array.from({ length: BURST }, (_, index) => `burst-${index}`);
      for (const [index, id] of ids.entries()) {
        if (index === BURST / 2)
          sender.send({ type: 'message.send', id: 'refused', dialogId: foreignDialogId, body: 'no' });
        sender.send({ type: 'message.send', id, dialogId, body: `burst ${index}` });
      }
      const acks = await Promise.all(
        ids.map((id) => sender.next((frame) => frame.type === 'ack' && frame.id === id)),
      );
      const refused = await sender.next((frame) => frame.type === 'error' && frame.id === 'refused');
      expect(refused).toMatchObject({ code: 'not_found' });
      const seqs = acks.map((ack) => ack.seq as number);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(BURST);
      // Acks leave in the order the sends arrived.
      const ackOrder = sender.frames.filter((frame) => frame.type === 'ack').map((frame) => frame.id);
      expect(ackOrder).toEqual(ids);
      // Sent one by one (each waiting for its commit), the burst would take at least BURST transactions.
      expect(transactions).toBeLessThan(BURST / 2);
      const last = seqs.at(-1);
      await receiver.next((frame) => frame.type === 'message.new' && frame.seq === last);
      const bodies = receiver.frames
        .filter((frame): frame is Frame & { message: { body: string } } => frame.type === 'message.new')
        .map((frame) => frame.message.body);
      expect(bodies).toEqual(ids.map((_, index) => `burst ${index}`));
    } finally {
      storage.withTenant = withTenant;
      sender.ws.close();
      receiver.ws.close();
    }
  });

  it('lets a frame of another kind see every earlier send committed', async () => {
    const sender = await openSocket(server, owner.accessToken);
    try {
      sender.send({ type: 'message.send', id: 'to-edit', dialogId, body: 'draft' });
      const seed = await sender.next((frame) => frame.type === 'ack' && frame.id === 'to-edit');
      for (let index = 0; index < 10; index += 1)
        sender.send({ type: 'message.send', id: `before-edit-${index}`, dialogId, body: `m ${index}` });
      sender.send({
        type: 'message.edit',
        id: 'edit-after',
        dialogId,
        messageId: seed.messageId,
        body: 'final',
      });
      const edited = await sender.next((frame) => frame.type === 'ack' && frame.id === 'edit-after');
      const acks = sender.frames.filter((frame) => frame.type === 'ack');
      expect(acks.map((frame) => frame.id)).toEqual([
        'to-edit',
        ...Array.from({ length: 10 }, (_, index) => `before-edit-${index}`),
        'edit-after',
      ]);
      // The edit's change comes after every message sent before it, in the dialog's sequence.
      expect(edited.seq).toBeGreaterThan(Math.max(...acks.slice(0, -1).map((frame) => frame.seq as number)));
    } finally {
      sender.ws.close();
    }
  });
});
