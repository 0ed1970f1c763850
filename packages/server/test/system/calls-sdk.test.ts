import { type Call, ParleyClient, RealtimeError } from '@parley/client';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { ownerPassword } from '../support/identity-fixtures.ts';
import { type ChatTenant, newChatTenant, trustingFetch, trustingWebSocket } from '../support/sdk-clients.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * The SDK's call signaling in Node (no WebRTC here: the calls that get this far never open a peer connection,
 * and one that would gets the injected `RTCPeerConnection`). Promises: call requests resolve with their own
 * answers (`call.created`, `call.ack`) and reject with the server's code; they are refused at once while not
 * connected instead of waiting for a reconnect that would make them another device's; `client.calls` rings,
 * rejects and cancels as the server decides. The browser suite (calls-browser.test.ts) connects real media.
 */

/** Fails the test if a peer connection is ever made: none of these flows reaches one. */
function NoPeerConnection(): never {
  throw new Error('no peer connection expected in these flows');
}

describeEachDialect('call signaling through the client SDK', (dialect) => {
  let server: TestServer;
  let chat: ChatTenant;
  const clients: ParleyClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    chat = await newChatTenant(server, 'SDK Call Clinic');
    await chat.newDialog('Alice and Bob');
  });

  afterEach(() => {
    // A closed connection leaves its calls: nobody stays busy for the next test.
    for (const client of clients.splice(0)) client.realtime.close();
  });

  afterAll(async () => {
    await server.close();
  });

  async function connected(who: 'alice' | 'bob', scope = 'profile chat calls'): Promise<ParleyClient> {
    const client = new ParleyClient({
      baseUrl: server.url,
      fetch: trustingFetch(server.ca).fetch,
      realtime: { WebSocket: trustingWebSocket(server.ca) },
      calls: { RTCPeerConnection: NoPeerConnection },
    });
    clients.push(client);
    await client.auth.signIn({
      tenantId: chat.owner.tenantId,
      username: who === 'alice' ? chat.owner.email : chat.bob.email,
      password: who === 'alice' ? ownerPassword : chat.bob.password,
      scope,
    });
    client.realtime.connect();
    await client.realtime.whenReady();
    return client;
  }

  it('resolves call requests with call.created and call.ack, and rejects refusals with the server code', async () => {
    const alice = await connected('alice');
    const bob = await connected('bob');
    const incoming = new Promise<string>((resolve) => {
      bob.realtime.on('call.incoming', (frame) => {
        resolve(frame.callId);
      });
    });
    const created = await alice.realtime.request({
      type: 'call.start',
      to: { userId: chat.bob.userId },
      media: 'audio',
    });
    expect(created).toMatchObject({ type: 'call.created', callId: expect.any(String) });
    expect(await incoming).toBe(created.callId);
    expect(alice.realtime.deviceId).toEqual(expect.any(String));
    const rejected = await bob.realtime.request({ type: 'call.reject', callId: created.callId });
    expect(rejected).toMatchObject({ type: 'call.ack', callId: created.callId });
    const again = alice.realtime.request({ type: 'call.hangup', callId: created.callId });
    await expect(again).rejects.toMatchObject({ name: 'RealtimeError', code: 'not_found' });
    expect(alice.realtime.pending).toBe(0);
  });

  it('refuses a call request at once while not connected, and a token without the calls scope gets insufficient_scope', async () => {
    const offline = new ParleyClient({ baseUrl: server.url, fetch: trustingFetch(server.ca).fetch });
    const refused = offline.realtime.request({
      type: 'call.start',
      to: { userId: chat.bob.userId },
      media: 'audio',
    });
    await expect(refused).rejects.toBeInstanceOf(RealtimeError);
    await expect(refused).rejects.toMatchObject({ code: 'disconnected' });
    expect(offline.realtime.pending).toBe(0);

    const chatOnly = await connected('alice', 'profile chat');
    await expect(chatOnly.calls.start({ userId: chat.bob.userId }, { media: 'audio' })).rejects.toMatchObject(
      { code: 'insufficient_scope' },
    );
  });

  it('client.calls: the callee hears the call ring, rejects it, and the caller sees it end as rejected', async () => {
    const alice = await connected('alice');
    const bob = await connected('bob');
    const ringing = new Promise<Call>((resolve) => bob.calls.on('incoming', resolve));
    const call = await alice.calls.start({ userId: chat.bob.userId }, { media: 'video' });
    expect(call.phase).toBe('outgoing');
    const atBob = await ringing;
    expect(atBob).toMatchObject({
      id: call.id,
      callerId: chat.owner.userId,
      media: 'video',
      phase: 'incoming',
    });
    const endedAtAlice = call.whenEnded();
    await bob.calls.reject(call.id);
    expect(await endedAtAlice).toEqual({ outcome: 'rejected' });
    expect(atBob.phase).toBe('ended');
    expect([...alice.calls.calls.keys()]).toEqual([]);
  });

  it('client.calls: a caller who hangs up while it rings cancels the call on the callee', async () => {
    const alice = await connected('alice');
    const bob = await connected('bob');
    const ringing = new Promise<Call>((resolve) => bob.calls.on('incoming', resolve));
    const call = await alice.calls.start({ userId: chat.bob.userId }, { media: 'audio' });
    const atBob = await ringing;
    await call.hangup();
    expect(await atBob.whenEnded()).toEqual({ outcome: 'cancelled' });
    expect(await call.whenEnded()).toEqual({ outcome: 'cancelled' });
  });
});
