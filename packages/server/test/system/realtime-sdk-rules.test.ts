import {
  type AccessTokenSource,
  type ConnectionEvent,
  RealtimeClient,
  type RealtimeClientOptions,
  type WebSocketLike,
} from '@parley/client';
import type { ClientFrame, ServerFrame } from '@parley/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * The realtime client's own rules, with a scripted socket standing in for the network so that every
 * interleaving is exact: what the real-server tests (realtime-sdk.test.ts) cannot force — a duplicate
 * delivery, a frame type the SDK was never told about, a 1009, the back-off sequence, the pacing.
 */

const DIALOG = '01a20fbf-0000-7000-8000-000000000001';
const EPOCH = 'epoch-1';

/** A socket the test plays the server for. */
class ScriptedSocket implements WebSocketLike {
  static readonly all: ScriptedSocket[] = [];
  readyState = 0;
  readonly sent: ClientFrame[] = [];
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;

  constructor(readonly url: string) {
    ScriptedSocket.all.push(this);
  }

  static latest(): ScriptedSocket {
    const socket = ScriptedSocket.all.at(-1);
    if (!socket) throw new Error('no socket yet');
    return socket;
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as ClientFrame);
  }

  close(): void {
    this.readyState = 3;
  }

  /** The server accepts the connection and the token. */
  accept(): void {
    this.readyState = 1;
    this.onopen?.({});
    this.deliver({
      type: 'ready',
      userId: 'user-1',
      deviceId: 'device-1',
      epoch: EPOCH,
      heartbeatMs: 25_000,
    });
  }

  deliver(frame: ServerFrame): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  drop(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const tokens: AccessTokenSource = {
  current: () => 'parley_at_test',
  renew: () => Promise.resolve('parley_at_test'),
};

function newClient(options: Partial<RealtimeClientOptions> = {}) {
  const client = new RealtimeClient({
    url: 'wss://chat.example/v1/realtime',
    tokens,
    WebSocket: ScriptedSocket,
    backoff: { initialDelayMs: 100, maxDelayMs: 1000 },
    ...options,
  });
  const states: ConnectionEvent[] = [];
  client.on('connection', (event) => states.push(event));
  client.connect();
  return { client, states };
}

const message = (seq: number, epoch = EPOCH): ServerFrame => ({
  type: 'message.new',
  dialogId: DIALOG,
  seq,
  epoch,
  message: {
    id: `m-${seq}`,
    dialogId: DIALOG,
    seq,
    senderId: 'user-2',
    clientId: `c-${seq}`,
    body: `message ${seq}`,
    replyTo: null,
    mentions: [],
    properties: null,
    attachments: [],
    reactions: [],
    createdAt: new Date(0).toISOString(),
    editedAt: null,
    deleted: false,
  },
});

describe('the realtime client’s rules (scripted socket)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    ScriptedSocket.all.length = 0;
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands each stream position to the app once and in order, whatever sequenced frame type carries it', () => {
    const { client } = newClient();
    const socket = ScriptedSocket.latest();
    socket.accept();
    const seen: string[] = [];
    client.on('message.new', (frame) => seen.push(`new ${frame.seq}`));
    client.on('message.deleted', (frame) => seen.push(`deleted ${frame.seq}`));
    client.on('message.reactions', (frame) => seen.push(`reactions ${frame.seq}`));

    socket.deliver(message(1));
    socket.deliver(message(2));
    // A replay overlapping what was delivered, in any frame type: dropped.
    socket.deliver(message(1));
    socket.deliver({ type: 'message.deleted', dialogId: DIALOG, seq: 2, epoch: EPOCH, messageId: 'm-1' });
    socket.deliver({
      type: 'message.reactions',
      dialogId: DIALOG,
      seq: 3,
      epoch: EPOCH,
      messageId: 'm-2',
      reactions: [],
    });
    socket.deliver({ type: 'message.deleted', dialogId: DIALOG, seq: 4, epoch: EPOCH, messageId: 'm-1' });
    socket.deliver(message(3));
    expect(seen).toEqual(['new 1', 'new 2', 'reactions 3', 'deleted 4']);
    expect(client.positions.get(DIALOG)).toEqual({ seq: 4, epoch: EPOCH });

    // A restored database: after the resync, the new epoch's stream starts over and is accepted.
    socket.deliver({ type: 'resync', dialogId: DIALOG, reason: 'epoch_changed' });
    expect(client.positions.get(DIALOG)).toBeUndefined();
    socket.deliver(message(2, 'epoch-2'));
    expect(seen.at(-1)).toBe('new 2');
    expect(client.positions.get(DIALOG)).toEqual({ seq: 2, epoch: 'epoch-2' });
    client.close();
  });

  it('after a drop, the next socket sends auth, then the resume positions, then every unacked request with its original id', async () => {
    const { client, states } = newClient();
    ScriptedSocket.latest().accept();
    ScriptedSocket.latest().deliver(message(7));
    const acked = client.send(DIALOG, 'survives the drop');
    const original = ScriptedSocket.latest().sent.find((frame) => frame.type === 'message.send');
    expect(original).toMatchObject({ id: expect.any(String), body: 'survives the drop' });

    ScriptedSocket.latest().drop(1006);
    expect(states.at(-1)).toMatchObject({ state: 'reconnecting', closeCode: 1006 });
    const queuedWhileDown = client.send(DIALOG, 'sent while down');
    await vi.advanceTimersByTimeAsync(states.at(-1)?.retryInMs ?? 0);
    const second = ScriptedSocket.latest();
    expect(ScriptedSocket.all).toHaveLength(2);
    second.accept();
    expect(second.sent.map((frame) => frame.type)).toEqual(['auth', 'message.send', 'message.send']);
    // The positions ride in `auth`, so no live message can overtake the replay.
    expect(second.sent[0]).toMatchObject({ type: 'auth', positions: { [DIALOG]: { seq: 7, epoch: EPOCH } } });
    expect(second.sent[1]).toEqual(original);

    const retriedId = (second.sent[1] as { id: string }).id;
    const ack = { type: 'ack', id: retriedId, dialogId: DIALOG, messageId: 'm-8', seq: 8 } as const;
    second.deliver(ack);
    second.deliver(ack); // a second ack for the same id (two retries answered) resolves nothing twice
    await expect(acked).resolves.toEqual(ack);
    second.deliver({
      type: 'error',
      id: (second.sent[2] as { id: string }).id,
      code: 'forbidden',
      message: 'no',
    });
    await expect(queuedWhileDown).rejects.toMatchObject({ name: 'RealtimeError', code: 'forbidden' });
    expect(client.pending).toBe(0);
    client.close();
  });

  it('backs off exponentially with jitter up to the cap, starts again after ready, and waits at least 5 s after 4029', async () => {
    const { client, states } = newClient();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 6; attempt += 1) {
      ScriptedSocket.latest().drop(1006);
      const delay = states.at(-1)?.retryInMs ?? -1;
      delays.push(delay);
      await vi.advanceTimersByTimeAsync(delay);
    }
    const ceilings = [100, 200, 400, 800, 1000, 1000];
    delays.forEach((delay, index) => {
      expect(delay).toBeGreaterThanOrEqual((ceilings[index] ?? 0) / 2);
      expect(delay).toBeLessThanOrEqual(ceilings[index] ?? 0);
    });
    ScriptedSocket.latest().accept();
    ScriptedSocket.latest().drop(1001);
    expect(states.at(-1)?.retryInMs).toBeLessThanOrEqual(100);
    await vi.advanceTimersByTimeAsync(100);
    ScriptedSocket.latest().drop(4029);
    expect(states.at(-1)?.retryInMs).toBeGreaterThanOrEqual(5000);
    client.close();
  });

  it('stops for good on 4003 (forbidden) and refuses what was waiting', async () => {
    const { client, states } = newClient();
    const waiting = client.send(DIALOG, 'never');
    ScriptedSocket.latest().drop(4003);
    await expect(waiting).rejects.toMatchObject({ code: 'forbidden' });
    expect(states.at(-1)).toMatchObject({ state: 'closed', closeCode: 4003, error: { code: 'forbidden' } });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ScriptedSocket.all).toHaveLength(1);
  });

  it('after a 1009 (the server’s frame limit is lower than assumed), drops the largest waiting request and resends the rest', async () => {
    const { client, states } = newClient();
    ScriptedSocket.latest().accept();
    const small = client.send(DIALOG, 'small');
    const large = client.send(DIALOG, 'x'.repeat(10_000));
    ScriptedSocket.latest().drop(1009);
    await expect(large).rejects.toMatchObject({ code: 'frame_too_large' });
    await vi.advanceTimersByTimeAsync(states.at(-1)?.retryInMs ?? 0);
    ScriptedSocket.latest().accept();
    const resent = ScriptedSocket.latest().sent.filter((frame) => frame.type === 'message.send');
    expect(resent).toMatchObject([{ body: 'small' }]);
    void small.catch(() => undefined);
    client.close();
  });

  it('paces a burst to the configured frame rate, oldest first', async () => {
    const { client } = newClient({ framesPerSecond: 20 });
    ScriptedSocket.latest().accept();
    const sends = Array.from({ length: 45 }, (_, n) => client.send(DIALOG, `burst ${n}`));
    const socket = ScriptedSocket.latest();
    // auth + 19 sends in the first moment (20 tokens), then 20 per second.
    expect(socket.sent).toHaveLength(20);
    await vi.advanceTimersByTimeAsync(1000);
    expect(socket.sent).toHaveLength(40);
    await vi.advanceTimersByTimeAsync(1000);
    expect(socket.sent).toHaveLength(46);
    const bodies = socket.sent.flatMap((frame) => (frame.type === 'message.send' ? [frame.body] : []));
    expect(bodies).toEqual(Array.from({ length: 45 }, (_, n) => `burst ${n}`));
    client.close();
    for (const send of sends) await expect(send).rejects.toMatchObject({ code: 'closed' });
  });
});
