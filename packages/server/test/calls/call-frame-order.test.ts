import { once } from 'node:events';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { describePostgres } from '../support/dialects.ts';
import { json, newTenantOwner, signIn } from '../support/identity-fixtures.ts';
import { type Frame, Socket } from '../support/realtime-socket.ts';
import type { TestServer } from '../support/start-server.ts';
import { startTwoNodes, type TwoNodes } from '../support/two-nodes.ts';

/**
 * The call service publishes all frames of one change at once (not one bus round trip after another). A
 * client still relies on their order: the ring (`call.incoming`) before the call's `call.state`, `active`
 * before `call.ended`. Here the callees sit on another node, so every frame crosses Redis.
 */
describePostgres('call frames across two nodes over Redis', () => {
  let nodes: TwoNodes;
  let nodeA: TestServer;
  let nodeB: TestServer;

  beforeAll(async () => {
    nodes = await startTwoNodes();
    ({ nodeA, nodeB } = nodes);
  });

  afterAll(async () => {
    await nodes.close();
  });

  async function socketOn(server: TestServer, token: string): Promise<Socket> {
    const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
    await once(ws, 'open');
    const socket = new Socket(ws);
    socket.send({ type: 'auth', token });
    await socket.next((frame) => frame.type === 'ready');
    return socket;
  }

  /**
   * The pushed call frames one socket got for one call, as `type` or `type:state`. Answers to the socket's
   * own requests (`call.created`, `call.ack`) are left out: they are not published, so their order with the
   * pushed frames is not promised.
   */
  const sequence = (socket: Socket, callId: string) =>
    socket.frames
      .filter((frame: Frame) => frame.type.startsWith('call.') && frame.callId === callId)
      .filter((frame) => frame.type !== 'call.created' && frame.type !== 'call.ack')
      .map((frame) => (frame.type === 'call.state' ? `call.state:${String(frame.state)}` : frame.type));

  it('delivers each user the frames of every change in the order the change produced them', async () => {
    const owner = await newTenantOwner(nodeA, 'Call Order');
    const password = 'plum tree under the winter moon';
    const tokens: Record<string, string> = {};
    const ids: string[] = [];
    for (const name of ['ada', 'ben', 'cy']) {
      const email = `${name}@order.example`;
      const created = await nodeA.request(
        '/v1/users',
        json({ displayName: name, email, password, roles: ['member'] }, owner.accessToken),
      );
      ids.push(created.json<{ userId: string }>().userId);
      tokens[name] = (await signIn(nodeA, owner.tenantId, email, password, 'profile chat calls')).accessToken;
    }
    const dialog = await nodeA.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Order', memberIds: ids.slice(1) }, tokens.ada ?? ''),
    );
    const dialogId = dialog.json<{ id: string }>().id;
    const ada = await socketOn(nodeA, tokens.ada ?? '');
    const ben = await socketOn(nodeB, tokens.ben ?? '');
    const cy = await socketOn(nodeB, tokens.cy ?? '');
    for (let round = 1; round <= 5; round += 1) {
      ada.send({ type: 'call.start', id: `start-${round}`, to: { dialogId }, media: 'audio' });
      const created = await ada.next(
        (frame) => frame.type === 'call.created' && frame.id === `start-${round}`,
      );
      const callId = created.callId as string;
      await ben.next((frame) => frame.type === 'call.incoming' && frame.callId === callId);
      ben.send({ type: 'call.accept', id: `accept-${round}`, callId });
      await cy.next(
        (frame) => frame.type === 'call.state' && frame.callId === callId && frame.state === 'active',
      );
      ada.send({ type: 'call.hangup', id: `hangup-${round}`, callId });
      await ben.next(
        (frame) =>
          frame.type === 'call.state' &&
          frame.callId === callId &&
          (frame.participants as { state: string }[]).some((entry) => entry.state === 'left'),
      );
      ben.send({ type: 'call.hangup', id: `hangup-ben-${round}`, callId });
      for (const socket of [ada, ben, cy])
        await socket.next((frame) => frame.type === 'call.ended' && frame.callId === callId);
      // Each change's frames in order: the start rings, then tells the state; the accept turns the call
      // active; Ada leaving is a state; Ben leaving ends it (Cy, still ringing, missed it).
      expect(sequence(ben, callId)).toEqual([
        'call.incoming',
        'call.state:ringing',
        'call.state:active',
        'call.state:active',
        'call.ended',
      ]);
      expect(sequence(cy, callId)).toEqual([
        'call.incoming',
        'call.state:ringing',
        'call.state:active',
        'call.state:active',
        'call.ended',
      ]);
      expect(sequence(ada, callId)).toEqual([
        'call.state:ringing',
        'call.state:active',
        'call.state:active',
        'call.ended',
      ]);
    }
    for (const socket of [ada, ben, cy]) socket.ws.close();
  });
});
