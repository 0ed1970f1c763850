import { type AckFrame, type ParleyClient, type ParleyClientOptions, RealtimeError } from '@parley/client';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { startFlakyProxy } from '../support/flaky-proxy.ts';
import { bearer, postForm } from '../support/identity-fixtures.ts';
import { type ChatTenant, Inbox, newChatTenant, nextState, signedInSdk } from '../support/sdk-clients.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * The client SDK's realtime module against a real server, through real failures. Attacks and accidents: the
 * network drops mid-stream while sends are queued and their acks are in flight (a retry must not duplicate a
 * message, and nothing may be lost or seen twice); a connection goes silent without closing; the access token
 * expires or is replaced under an open socket; a revoked session must not be kept alive by reconnecting.
 */

/** A clock the test moves past the access token's lifetime. */
class MovableClock implements Clock {
  #now = Date.now();
  now(): number {
    return this.#now;
  }
  advanceSeconds(seconds: number): void {
    this.#now += seconds * 1000;
  }
}

const ACCESS_TOKEN_TTL_SECONDS = 120;
/** Quick retries: the tests measure correctness, not patience. */
const backoff = { initialDelayMs: 50, maxDelayMs: 500 };

interface MessageHistory {
  messages: { seq: number; clientId: string; senderId: string; body: string | null }[];
}

describeEachDialect('the realtime SDK against a real server', (dialect) => {
  const clock = new MovableClock();
  let server: TestServer;
  let tenantCount = 0;
  const clients: ParleyClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.realtime.close();
  });

  afterAll(async () => {
    await server.close();
  });

  async function tenant(): Promise<ChatTenant> {
    return newChatTenant(server, `Realtime SDK ${++tenantCount}`, ACCESS_TOKEN_TTL_SECONDS);
  }

  /** Signs in through the SDK and connects its realtime client; resolves at `ready`. */
  async function online(
    chat: ChatTenant,
    who: 'alice' | 'bob',
    realtime: ParleyClientOptions['realtime'] = {},
  ) {
    const sdk = await signedInSdk(server, chat, who, { backoff, ...realtime });
    clients.push(sdk.client);
    sdk.client.realtime.connect();
    await sdk.client.realtime.whenReady();
    return { ...sdk, inbox: new Inbox(sdk.client.realtime, 'message.new') };
  }

  /** Starts following a dialog from its current end, as an app does after loading it over REST. */
  async function follow(client: ParleyClient, dialogId: string): Promise<void> {
    const { epoch } = await client.realtime.whenReady();
    const dialog = await client.request<{ lastSeq: number }>('GET', `/v1/dialogs/${dialogId}`);
    client.realtime.track(dialogId, { seq: dialog.lastSeq, epoch });
  }

  const seqsOf = (inbox: Inbox<'message.new'>, dialogId: string) =>
    inbox.events.filter((frame) => frame.dialogId === dialogId).map((frame) => frame.seq);
  const upTo = (last: number) => Array.from({ length: last }, (_, index) => index + 1);

  async function history(client: ParleyClient, dialogId: string): Promise<MessageHistory['messages']> {
    return (await client.request<MessageHistory>('GET', `/v1/dialogs/${dialogId}/messages?after=0&limit=200`))
      .messages;
  }

  it('messages flow both ways; each send resolves with the ack after commit, and each member sees every message once, in order', async () => {
    const chat = await tenant();
    const alice = await online(chat, 'alice');
    const bob = await online(chat, 'bob');
    const dialogId = await chat.newDialog('Both ways');
    await follow(alice.client, dialogId);
    await follow(bob.client, dialogId);

    const acks = await Promise.all([
      alice.client.realtime.send(dialogId, 'hello Bob'),
      bob.client.realtime.send(dialogId, 'hello Alice'),
      alice.client.realtime.send(dialogId, 'how are you?'),
      bob.client.realtime.send(dialogId, 'fine, thanks', { mentions: [chat.owner.userId] }),
    ]);
    expect(acks.map((ack) => ack.seq).sort()).toEqual([1, 2, 3, 4]);
    for (const member of [alice, bob]) {
      await member.inbox.waitFor((frame) => frame.dialogId === dialogId && frame.seq === 4);
      expect(seqsOf(member.inbox, dialogId)).toEqual([1, 2, 3, 4]);
    }
    // Each ack names the committed message: the same id, seq and client id every member received.
    for (const ack of acks) {
      const delivered = bob.inbox.events.find((frame) => frame.seq === ack.seq);
      expect(delivered?.message).toMatchObject({ id: ack.messageId, clientId: ack.id, dialogId });
    }
    expect(alice.inbox.events.find((frame) => frame.seq === acks[3].seq)?.message).toMatchObject({
      body: 'fine, thanks',
      senderId: chat.bob.userId,
      mentions: [chat.owner.userId],
    });
  });

  it('a dropped connection mid-stream, with acks lost and sends queued: after the reconnect every message arrives exactly once, in order, and every send is stored once under its client id', async () => {
    const chat = await tenant();
    const proxy = await startFlakyProxy('127.0.0.1', Number(new URL(server.url).port));
    try {
      const alice = await online(chat, 'alice');
      const bob = await online(chat, 'bob', { url: `wss://127.0.0.1:${proxy.port}/v1/realtime` });
      const bobAcks = new Inbox(bob.client.realtime, 'ack');
      const dialogId = await chat.newDialog('Tunnel');
      await follow(alice.client, dialogId);
      await follow(bob.client, dialogId);
      const aliceSends = (label: string, count: number) =>
        Promise.all(
          Array.from({ length: count }, (_, n) => alice.client.realtime.send(dialogId, `${label} ${n + 1}`)),
        );

      await aliceSends('before', 5);
      await bob.inbox.waitFor((frame) => frame.seq === 5);

      // The answers stop reaching Bob: his next sends commit on the server, but their acks are lost.
      proxy.silenceDownstream();
      const inFlight = [1, 2, 3].map((n) => bob.client.realtime.send(dialogId, `in flight ${n}`));
      await alice.inbox.waitFor(
        (frame) => frame.message.senderId === chat.bob.userId && frame.message.body === 'in flight 3',
      );
      await aliceSends('while silent', 4);
      expect(bobAcks.events).toHaveLength(0);

      // The connection drops. While Bob's client waits to reconnect, he sends more and Alice keeps talking.
      const reconnecting = nextState(bob.client.realtime, 'reconnecting');
      const reconnected = nextState(bob.client.realtime, 'ready');
      proxy.dropConnections();
      expect(await reconnecting).toMatchObject({ closeCode: 1006, retryInMs: expect.any(Number) });
      const queued = [1, 2, 3].map((n) => bob.client.realtime.send(dialogId, `queued ${n}`));
      expect(bob.client.realtime.pending).toBe(6);
      const during = aliceSends('during the reconnect', 4);
      await reconnected;

      const bobsAcks: AckFrame[] = await Promise.all([...inFlight, ...queued]);
      await during;
      const total = 5 + 3 + 4 + 3 + 4;
      await bob.inbox.waitFor((frame) => frame.seq === total);
      await alice.inbox.waitFor((frame) => frame.seq === total);

      // Each stream position reached each member exactly once, in order, across the drop.
      expect(seqsOf(bob.inbox, dialogId)).toEqual(upTo(total));
      expect(seqsOf(alice.inbox, dialogId)).toEqual(upTo(total));
      // The lost acks were recovered by re-sending with the same client id: the server answered the seq
      // the message already had (Alice saw it under that client id before the drop).
      for (const ack of bobsAcks.slice(0, 3)) {
        const seenByAlice = alice.inbox.events.find((frame) => frame.message.clientId === ack.id);
        expect(seenByAlice?.seq).toBe(ack.seq);
      }
      const stored = await history(alice.client, dialogId);
      expect(stored.map((message) => message.seq)).toEqual(upTo(total));
      const bobsStored = stored.filter((message) => message.senderId === chat.bob.userId);
      expect(bobsStored.map((message) => message.clientId).sort()).toEqual(
        bobsAcks.map((ack) => ack.id).sort(),
      );
      expect(bobsStored.map((message) => message.body)).toEqual([
        'in flight 1',
        'in flight 2',
        'in flight 3',
        'queued 1',
        'queued 2',
        'queued 3',
      ]);
      expect(proxy.accepted).toBe(2);
      expect(bob.client.realtime.pending).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it('a connection that goes silent without closing is found dead by the heartbeat and replaced; nothing is lost', async () => {
    const chat = await tenant();
    const proxy = await startFlakyProxy('127.0.0.1', Number(new URL(server.url).port));
    try {
      const alice = await online(chat, 'alice');
      const bob = await online(chat, 'bob', {
        url: `wss://127.0.0.1:${proxy.port}/v1/realtime`,
        heartbeat: { idleMs: 150, timeoutMs: 300 },
      });
      const dialogId = await chat.newDialog('Silent');
      await follow(bob.client, dialogId);
      await alice.client.realtime.send(dialogId, 'first');
      await bob.inbox.waitFor((frame) => frame.seq === 1);

      const reconnecting = nextState(bob.client.realtime, 'reconnecting');
      const reconnected = nextState(bob.client.realtime, 'ready');
      proxy.silenceDownstream();
      for (const body of ['second', 'third']) await alice.client.realtime.send(dialogId, body);
      expect(await reconnecting).toMatchObject({ closeCode: 1006, reason: 'heartbeat timeout' });
      await reconnected;
      await bob.inbox.waitFor((frame) => frame.seq === 3);
      expect(seqsOf(bob.inbox, dialogId)).toEqual([1, 2, 3]);
      expect(proxy.accepted).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it('an expired access token: the server closes the socket (4001), the SDK refreshes once, reconnects, resumes and delivers the send', async () => {
    const chat = await tenant();
    const alice = await online(chat, 'alice');
    const bob = await online(chat, 'bob');
    const dialogId = await chat.newDialog('Expiry');
    await follow(alice.client, dialogId);
    await follow(bob.client, dialogId);
    await alice.client.realtime.send(dialogId, 'before expiry');
    await bob.inbox.waitFor((frame) => frame.seq === 1);

    clock.advanceSeconds(ACCESS_TOKEN_TTL_SECONDS + 1);
    const refused = nextState(bob.client.realtime, 'reconnecting');
    const ack = await bob.client.realtime.send(dialogId, 'after expiry');
    expect(await refused).toMatchObject({ closeCode: 4001 });
    expect(ack.seq).toBe(2);
    expect(bob.http.refreshes()).toBe(1);
    // Alice's token expired too: her send is refused, refreshed and re-sent the same way.
    const second = await alice.client.realtime.send(dialogId, 'also after expiry');
    expect(second.seq).toBe(3);
    expect(alice.http.refreshes()).toBe(1);
    await bob.inbox.waitFor((frame) => frame.seq === 3);
    expect(seqsOf(bob.inbox, dialogId)).toEqual([1, 2, 3]);
  });

  it('a token replaced by a REST refresh: the socket is refused at its next frame and reconnects with the new token, without a second refresh', async () => {
    const chat = await tenant();
    const bob = await online(chat, 'bob');
    const dialogId = await chat.newDialog('Rotation');
    await follow(bob.client, dialogId);
    await bob.client.auth.refresh();
    const refused = nextState(bob.client.realtime, 'reconnecting');
    const ack = await bob.client.realtime.send(dialogId, 'with the new token');
    expect(await refused).toMatchObject({ closeCode: 4001 });
    expect(ack.seq).toBe(1);
    expect(bob.http.refreshes()).toBe(1);
    expect(bob.client.realtime.state).toBe('ready');
  });

  it('a revoked session is not revived: the SDK stops reconnecting, reports unauthorized and refuses what was waiting', async () => {
    const chat = await tenant();
    const bob = await online(chat, 'bob');
    const dialogId = await chat.newDialog('Revoked');
    const connections = new Inbox(bob.client.realtime, 'connection');
    // Bob signs out on another device with this session's refresh token (RFC 7009): the session ends.
    const revoked = await postForm(server, '/oauth/revoke', { token: bob.tokens.load()?.refreshToken ?? '' });
    expect(revoked.status).toBe(200);

    const closed = nextState(bob.client.realtime, 'closed');
    const failure = await bob.client.realtime.send(dialogId, 'never stored').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RealtimeError);
    expect(failure).toMatchObject({ code: 'unauthorized' });
    expect((await closed).error).toMatchObject({ code: 'unauthorized' });
    expect(connections.events.map((event) => event.state)).toEqual(['reconnecting', 'closed']);
    expect(bob.http.refreshes()).toBe(1);
    await expect(bob.client.realtime.send(dialogId, 'after the end')).rejects.toMatchObject({
      code: 'closed',
    });
    const stored = await server.request(`/v1/dialogs/${dialogId}/messages`, bearer(chat.owner.accessToken));
    expect(stored.json<MessageHistory>().messages).toHaveLength(0);
  });

  it('refusals reject the send with a typed error and leave the connection up; oversized frames and a full queue are refused locally', async () => {
    const chat = await tenant();
    const bob = await online(chat, 'bob', { maxFrameBytes: 4096 });
    const dialogId = await chat.newDialog('Refusals');
    const unknownDialog = '00000000-0000-7000-8000-000000000000';
    await expect(bob.client.realtime.send(unknownDialog, 'to nowhere')).rejects.toMatchObject({
      name: 'RealtimeError',
      code: 'not_found',
    });
    await expect(bob.client.realtime.send(dialogId, 'x'.repeat(5000))).rejects.toMatchObject({
      code: 'frame_too_large',
    });
    expect(bob.client.realtime.state).toBe('ready');
    expect((await bob.client.realtime.send(dialogId, 'still connected')).seq).toBe(1);

    // Offline, the queue is bounded; closing refuses what is still waiting.
    bob.client.realtime.close();
    const offline = await signedInSdk(server, chat, 'bob', { maxQueued: 2 });
    const waiting = [1, 2].map((n) => offline.client.realtime.send(dialogId, `waiting ${n}`));
    await expect(offline.client.realtime.send(dialogId, 'one too many')).rejects.toMatchObject({
      code: 'queue_full',
    });
    offline.client.realtime.connect();
    offline.client.realtime.close();
    for (const send of waiting) await expect(send).rejects.toMatchObject({ code: 'closed' });
  });
});
