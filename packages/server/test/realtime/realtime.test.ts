import { once } from 'node:events';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { describeEachDialect } from '../support/dialects.ts';
import { json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { Socket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

describeEachDialect('realtime over WSS', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let bob: { userId: string; token: string };
  let dialogId: string;
  const password = 'plum tree under the winter moon';

  beforeAll(async () => {
    server = await startTestServer({
      dialect,
      env: { PARLEY_REALTIME_AUTH_TIMEOUT_MS: '500', PARLEY_REALTIME_FRAMES_PER_SECOND: '20' },
    });
    owner = await newTenantOwner(server, 'Live Clinic');
    const created = await server.request(
      '/v1/users',
      json({ displayName: 'Bob', email: 'bob@live.example', password, roles: ['member'] }, owner.accessToken),
    );
    bob = {
      userId: created.json<{ userId: string }>().userId,
      token: (await signIn(server, owner.tenantId, 'bob@live.example', password, 'profile chat')).accessToken,
    };
    dialogId = (
      await server.request(
        '/v1/dialogs',
        json({ type: 'group', name: 'Live', memberIds: [bob.userId] }, owner.accessToken),
      )
    ).json<{ id: string }>().id;
  });

  afterAll(async () => {
    await server.close();
  });

  async function connect(token?: string): Promise<Socket> {
    const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
    await once(ws, 'open');
    const socket = new Socket(ws);
    if (token !== undefined) {
      socket.send({ type: 'auth', token });
      await socket.next((frame) => frame.type === 'ready');
    }
    return socket;
  }

  it('authenticates with the first frame and answers ready with the epoch', async () => {
    const socket = await connect(bob.token);
    expect(socket.frames[0]).toMatchObject({ type: 'ready', userId: bob.userId, epoch: expect.any(String) });
    socket.ws.close();
  });

  it('closes 4001 for an invalid token, 4008 without auth, and refuses a token in the URL', async () => {
    const bad = await connect();
    bad.send({ type: 'auth', token: 'parley_at_forged_token_value_000000000000' });
    expect((await bad.closed)[0]).toBe(4001);
    const silent = await connect();
    expect((await silent.closed)[0]).toBe(4008);
    const inUrl = new WebSocket(
      `${server.url.replace('https', 'wss')}/v1/realtime?access_token=${bob.token}`,
      { ca: server.ca },
    );
    const [error] = (await once(inUrl, 'error')) as [Error];
    expect(error.message).toMatch(/404/);
  });

  it('acks a send after commit, delivers it to the other member, and a retry neither duplicates nor re-delivers', async () => {
    const ownerSocket = await connect(owner.accessToken);
    const bobSocket = await connect(bob.token);
    ownerSocket.send({ type: 'message.send', id: 'rt-1', dialogId, body: 'hello live' });
    const ack = await ownerSocket.next((frame) => frame.type === 'ack' && frame.id === 'rt-1');
    const delivered = await bobSocket.next((frame) => frame.type === 'message.new' && frame.seq === ack.seq);
    expect(delivered).toMatchObject({ dialogId, message: { body: 'hello live', clientId: 'rt-1' } });
    ownerSocket.send({ type: 'message.send', id: 'rt-1', dialogId, body: 'hello live' });
    const again = await ownerSocket.next(
      (frame) => frame.type === 'ack' && frame.id === 'rt-1' && frame !== ack,
    );
    expect(again.seq).toBe(ack.seq);
    bobSocket.send({ type: 'ping' });
    await bobSocket.next((frame) => frame.type === 'pong');
    expect(
      bobSocket.frames.filter((frame) => frame.type === 'message.new' && frame.seq === ack.seq),
    ).toHaveLength(1);
    ownerSocket.ws.close();
    bobSocket.ws.close();
  });

  it('resumes after a disconnect with every missed message, in order, and nothing twice', async () => {
    const first = await connect(bob.token);
    const ready = first.frames[0] as unknown as { epoch: string };
    const before = await server.request(`/v1/dialogs/${dialogId}`, {
      headers: { authorization: `Bearer ${bob.token}` },
    });
    const seenSeq = before.json<{ lastSeq: number }>().lastSeq;
    first.ws.close();
    for (let n = 1; n <= 5; n += 1) {
      await server.request(
        `/v1/dialogs/${dialogId}/messages`,
        json({ clientId: `offline-${n}`, body: `missed ${n}` }, owner.accessToken),
      );
    }
    const second = await connect(bob.token);
    second.send({ type: 'resume', positions: { [dialogId]: { seq: seenSeq, epoch: ready.epoch } } });
    await second.next((frame) => frame.type === 'message.new' && frame.seq === seenSeq + 5);
    const replayed = second.frames.filter((frame) => frame.type === 'message.new').map((frame) => frame.seq);
    expect(replayed).toEqual([1, 2, 3, 4, 5].map((n) => seenSeq + n));
    // A position from another epoch (a restored database) gets a resync, not a silent gap.
    second.send({ type: 'resume', positions: { [dialogId]: { seq: 1, epoch: 'another-epoch' } } });
    expect(await second.next((frame) => frame.type === 'resync')).toMatchObject({
      dialogId,
      reason: 'epoch_changed',
    });
    second.ws.close();
  });

  it('answers bad frames with precise errors and closes a flooding socket (4029); others are unaffected', async () => {
    const socket = await connect(bob.token);
    socket.send('{not json');
    expect(await socket.next((frame) => frame.type === 'error')).toMatchObject({ code: 'malformed_frame' });
    socket.send({ type: 'message.send', id: 'x', dialogId: 'not-a-uuid', body: 'hi' });
    expect(
      await socket.next((frame) => frame.type === 'error' && frame.code === 'invalid_frame'),
    ).toMatchObject({ id: 'x' });
    socket.send({
      type: 'message.send',
      id: 'y',
      dialogId: '00000000-0000-7000-8000-000000000000',
      body: 'hi',
    });
    expect(await socket.next((frame) => frame.type === 'error' && frame.id === 'y')).toMatchObject({
      code: 'not_found',
    });
    const bystander = await connect(owner.accessToken);
    for (let n = 0; n < 200; n += 1) socket.send({ type: 'ping' });
    expect((await socket.closed)[0]).toBe(4029);
    bystander.send({ type: 'ping' });
    await bystander.next((frame) => frame.type === 'pong');
    bystander.ws.close();
  });

  // The socket closes as the revocation returns, without waiting for a frame from the client
  // (every ending cause, on one node and across two: security/session-socket-close.security.test.ts).
  it('closes the socket of a revoked token with 4001 by the time the revocation returned', async () => {
    const tokens = await signIn(server, owner.tenantId, 'bob@live.example', password, 'profile chat');
    const socket = await connect(tokens.accessToken);
    await server.request('/oauth/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.accessToken }).toString(),
    });
    expect((await socket.closed)[0]).toBe(4001);
  });
});
