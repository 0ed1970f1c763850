import { once } from 'node:events';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { describePostgres } from '../support/dialects.ts';
import { json, newTenantOwner, signIn } from '../support/identity-fixtures.ts';
import type { TestServer } from '../support/start-server.ts';
import { startTwoNodes, type TwoNodes } from '../support/two-nodes.ts';

type Frame = Record<string, unknown> & { type: string };

/** Opens an authenticated socket and resolves the first frame that matches, from then on. */
async function socketOn(server: TestServer, token: string) {
  const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
  await once(ws, 'open');
  const frames: Frame[] = [];
  const listeners: ((frame: Frame) => void)[] = [];
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as Frame;
    frames.push(frame);
    for (const listener of listeners) listener(frame);
  });
  const next = (match: (frame: Frame) => boolean) =>
    new Promise<Frame>((resolve) => {
      const seen = frames.find(match);
      if (seen) {
        resolve(seen);
        return;
      }
      listeners.push((frame) => {
        if (match(frame)) resolve(frame);
      });
    });
  ws.send(JSON.stringify({ type: 'auth', token }));
  await next((frame) => frame.type === 'ready');
  return {
    ws,
    frames,
    next,
    send: (frame: unknown) => {
      ws.send(JSON.stringify(frame));
    },
  };
}

describePostgres('realtime across two nodes on PostgreSQL + Redis', () => {
  let nodeA: TestServer;
  let nodeB: TestServer;

  let nodes: TwoNodes;

  beforeAll(async () => {
    nodes = await startTwoNodes();
    ({ nodeA, nodeB } = nodes);
  });

  afterAll(async () => {
    await nodes.close();
  });

  it('a message sent on node A reaches the recipient connected to node B, in order', async () => {
    const owner = await newTenantOwner(nodeA, 'Two Node Chat');
    const password = 'plum tree under the winter moon';
    const created = await nodeA.request(
      '/v1/users',
      json({ displayName: 'Bea', email: 'bea@two.example', password, roles: ['member'] }, owner.accessToken),
    );
    const beaId = created.json<{ userId: string }>().userId;
    const bea = await signIn(nodeB, owner.tenantId, 'bea@two.example', password, 'profile chat');
    const dialog = await nodeA.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Across', memberIds: [beaId] }, owner.accessToken),
    );
    const dialogId = dialog.json<{ id: string }>().id;
    const sender = await socketOn(nodeA, owner.accessToken);
    const receiver = await socketOn(nodeB, bea.accessToken);
    for (let n = 1; n <= 10; n += 1)
      sender.send({ type: 'message.send', id: `two-${n}`, dialogId, body: `across ${n}` });
    await receiver.next((frame) => frame.type === 'message.new' && frame.seq === 10);
    const seqs = receiver.frames.filter((frame) => frame.type === 'message.new').map((frame) => frame.seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    sender.ws.close();
    receiver.ws.close();
  });
});
