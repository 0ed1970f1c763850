import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { describeEachDialect } from '../support/dialects.ts';
import { json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { type Frame, Socket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

describeEachDialect('realtime edits, deletions, reactions, receipts, typing and presence', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let bob: { userId: string; token: string };
  let dialogId: string;
  const password = 'plum tree under the winter moon';

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Event Clinic');
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Bob', email: 'bob@event.example', password, roles: ['member'] },
        owner.accessToken,
      ),
    );
    bob = {
      userId: created.json<{ userId: string }>().userId,
      token: (await signIn(server, owner.tenantId, 'bob@event.example', password, 'profile chat'))
        .accessToken,
    };
    dialogId = (
      await server.request(
        '/v1/dialogs',
        json({ type: 'group', name: 'Events', memberIds: [bob.userId] }, owner.accessToken),
      )
    ).json<{ id: string }>().id;
  });

  afterAll(async () => {
    await server.close();
  });

  // A failed test must not leave a user online for the next one (presence assertions).
  const open: WebSocket[] = [];
  afterEach(async () => {
    const closing = open.splice(0).filter((ws) => ws.readyState !== WebSocket.CLOSED);
    for (const ws of closing) ws.close();
    await Promise.all(closing.map((ws) => once(ws, 'close')));
  });

  async function connect(token: string): Promise<Socket> {
    const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
    open.push(ws);
    await once(ws, 'open');
    const socket = new Socket(ws);
    socket.send({ type: 'auth', token });
    await socket.next((frame) => frame.type === 'ready');
    return socket;
  }

  /** Waits until the server has handled everything sent before (frames are handled in order). */
  async function settle(socket: Socket): Promise<void> {
    const before = socket.frames.filter((frame) => frame.type === 'pong').length;
    socket.send({ type: 'ping' });
    await socket.next(
      (frame) =>
        frame.type === 'pong' && socket.frames.filter((seen) => seen.type === 'pong').length > before,
    );
  }

  const sequenced = (socket: Socket) =>
    socket.frames.filter(
      (frame) => typeof frame.seq === 'number' && frame.dialogId === dialogId && frame.type !== 'ack',
    );

  it('delivers edits, reactions and deletions as sequenced frames, live and again after a resume', async () => {
    const ownerSocket = await connect(owner.accessToken);
    const bobSocket = await connect(bob.token);
    const epoch = bobSocket.frames[0]?.epoch as string;
    ownerSocket.send({ type: 'message.send', id: 'ev-1', dialogId, body: 'BP 120/80' });
    const sent = await ownerSocket.next((frame) => frame.type === 'ack' && frame.id === 'ev-1');
    const messageId = sent.messageId as string;
    const request = async (frame: Record<string, unknown>): Promise<Frame> => {
      ownerSocket.send(frame);
      const answer = await ownerSocket.next(
        (seen) => (seen.type === 'ack' || seen.type === 'error') && seen.id === frame.id,
      );
      expect(answer.type, JSON.stringify(answer)).toBe('ack');
      // A live frame carries the message as it is when delivered, so the next change waits for it.
      await bobSocket.next((seen) => seen.dialogId === dialogId && seen.seq === answer.seq);
      return answer;
    };
    const edit = await request({ type: 'message.edit', id: 'ev-2', dialogId, messageId, body: 'BP 125/80' });
    const react = await request({
      type: 'reaction',
      id: 'ev-3',
      dialogId,
      messageId,
      emoji: '✅',
      op: 'add',
    });
    const remove = await request({
      type: 'message.delete',
      id: 'ev-4',
      dialogId,
      messageId,
      forEveryone: true,
    });
    expect([edit.seq, react.seq, remove.seq]).toEqual([
      (sent.seq as number) + 1,
      (sent.seq as number) + 2,
      (sent.seq as number) + 3,
    ]);
    await bobSocket.next((frame) => frame.type === 'message.deleted' && frame.seq === remove.seq);
    const live = sequenced(bobSocket);
    expect(live.map((frame) => [frame.type, frame.seq])).toEqual([
      ['message.new', sent.seq],
      ['message.edited', edit.seq],
      ['message.reactions', react.seq],
      ['message.deleted', remove.seq],
    ]);
    expect(live[1]).toMatchObject({ message: { body: 'BP 125/80', editedAt: expect.any(String) } });
    expect(live[2]).toMatchObject({ messageId, reactions: [{ emoji: '✅', userIds: [owner.userId] }] });

    // A device that was offline resumes from before the message: every change once, in order.
    const late = await connect(bob.token);
    late.send({ type: 'resume', positions: { [dialogId]: { seq: (sent.seq as number) - 1, epoch } } });
    await late.next((frame) => frame.type === 'message.deleted' && frame.seq === remove.seq);
    await settle(late);
    expect(sequenced(late).map((frame) => [frame.type, frame.seq])).toEqual(
      live.map((frame) => [frame.type, frame.seq]),
    );
    // Replayed content is the message as it is now: deleted.
    expect(sequenced(late)[0]).toMatchObject({ message: { id: messageId, body: null, deleted: true } });
    for (const socket of [ownerSocket, bobSocket, late]) socket.ws.close();
  });

  it('refuses an edit of someone else’s message with an error frame carrying the request id', async () => {
    const ownerSocket = await connect(owner.accessToken);
    const bobSocket = await connect(bob.token);
    ownerSocket.send({ type: 'message.send', id: 'own-1', dialogId, body: 'mine' });
    const sent = await ownerSocket.next((frame) => frame.type === 'ack' && frame.id === 'own-1');
    bobSocket.send({ type: 'message.edit', id: 'steal', dialogId, messageId: sent.messageId, body: 'yours' });
    expect(await bobSocket.next((frame) => frame.id === 'steal')).toMatchObject({
      type: 'error',
      code: 'forbidden',
    });
    ownerSocket.ws.close();
    bobSocket.ws.close();
  });

  it('sends typing and receipts to the other members only', async () => {
    const ownerSocket = await connect(owner.accessToken);
    const bobSocket = await connect(bob.token);
    bobSocket.send({ type: 'typing', dialogId, state: 'started' });
    expect(await ownerSocket.next((frame) => frame.type === 'typing')).toMatchObject({
      dialogId,
      userId: bob.userId,
      state: 'started',
    });
    ownerSocket.send({ type: 'message.send', id: 'rc-1', dialogId, body: 'read me' });
    const sent = await ownerSocket.next((frame) => frame.type === 'ack' && frame.id === 'rc-1');
    bobSocket.send({ type: 'delivered', dialogId, seq: sent.seq });
    expect(await ownerSocket.next((frame) => frame.type === 'receipt')).toMatchObject({
      userId: bob.userId,
      deliveredSeq: sent.seq,
    });
    bobSocket.send({ type: 'read', dialogId, seq: sent.seq });
    await ownerSocket.next((frame) => frame.type === 'receipt' && frame.readSeq === sent.seq);
    await settle(bobSocket);
    expect(bobSocket.frames.filter((frame) => frame.type === 'typing' || frame.type === 'receipt')).toEqual(
      [],
    );
    ownerSocket.ws.close();
    bobSocket.ws.close();
  });

  it('tells followers when a user comes online and goes offline, unless their privacy setting hides it', async () => {
    const watcher = await connect(owner.accessToken);
    watcher.send({ type: 'presence.subscribe', userIds: [bob.userId] });
    await watcher.next((frame) => frame.type === 'presence' && frame.status === 'offline');
    const bobSocket = await connect(bob.token);
    await watcher.next((frame) => frame.type === 'presence' && frame.status === 'online');
    bobSocket.ws.close();
    await watcher.next(
      (frame) => frame.type === 'presence' && frame.status === 'offline' && frame.lastActiveAt !== null,
    );
    const hidden = await server.request(
      '/v1/me/presence-visibility',
      json({ visibility: 'nobody' }, bob.token, 'PUT'),
    );
    expect(hidden.status).toBe(204);
    const count = watcher.frames.filter((frame) => frame.type === 'presence').length;
    const again = await connect(bob.token);
    again.ws.close();
    await once(again.ws, 'close');
    // Both announcements have been published by now; the follower's re-check drops them.
    const other = await connect(bob.token);
    await settle(other);
    await settle(watcher);
    expect(watcher.frames.filter((frame) => frame.type === 'presence')).toHaveLength(count);
    other.ws.close();
    watcher.ws.close();
    await server.request('/v1/me/presence-visibility', json({ visibility: 'contacts' }, bob.token, 'PUT'));
  });
});
