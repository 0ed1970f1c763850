import { once } from 'node:events';
import WebSocket from 'ws';

/** What a client keeps of one sequenced frame: enough to compare with the database. */
export interface SeenChange {
  seq: number;
  id: string;
  clientId: string | null;
  body: string | null;
}

interface IncomingFrame {
  type: string;
  id?: string;
  dialogId?: string;
  seq?: number | null;
  epoch?: string;
  messageId?: string;
  code?: string;
  message?: { id: string; clientId: string | null; body: string | null };
}

/** Frames that carry a dialog sequence number (the stream a client resumes). */
const sequencedTypes = new Set(['message.new', 'message.edited', 'message.deleted', 'message.reactions']);

/**
 * A realtime client that records, across all of its connections, every sequenced frame of one dialog in
 * arrival order, and resumes from the last one it saw, as a well-behaved client does. It adds no
 * deduplication and no reordering of its own: whatever the server sends is what the test checks.
 */
export class DialogStreamClient {
  readonly seen: SeenChange[] = [];
  /** Frames sent on this client's sockets that the test did not expect (errors, resyncs). */
  readonly unexpected: IncomingFrame[] = [];
  epoch: string | undefined;
  connections = 0;
  ws: WebSocket | undefined;
  #waiters: { seq: number; resolve: () => void }[] = [];
  onAck: (frame: { id: string; seq: number; messageId: string }) => void = () => undefined;

  constructor(
    private readonly url: string,
    private readonly ca: string | undefined,
    readonly token: string,
    readonly dialogId: string,
  ) {}

  get lastSeq(): number {
    return this.seen.at(-1)?.seq ?? 0;
  }

  /**
   * Opens a socket and authenticates. With a known epoch the resume goes out right behind the auth frame
   * (frames are handled in order, so nothing live can overtake it); on the very first connection the epoch
   * comes from `ready`, and the resume follows it.
   */
  async connect(): Promise<void> {
    const ws = new WebSocket(`${this.url.replace('https', 'wss')}/v1/realtime`, { ca: this.ca });
    this.ws = ws;
    this.connections += 1;
    await once(ws, 'open');
    // A socket cut by a dying server reports an error before it closes; the close is what counts here.
    ws.on('error', () => undefined);
    const resume = () => ({
      type: 'resume',
      positions: { [this.dialogId]: { seq: this.lastSeq, epoch: this.epoch } },
    });
    const ready = new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString('utf8')) as IncomingFrame;
        if (frame.type === 'ready') {
          if (this.epoch === undefined) {
            this.epoch = frame.epoch;
            ws.send(JSON.stringify(resume()));
          }
          resolve();
          return;
        }
        this.#onFrame(frame);
      });
    });
    ws.send(JSON.stringify({ type: 'auth', token: this.token }));
    if (this.epoch !== undefined) ws.send(JSON.stringify(resume()));
    await ready;
  }

  #onFrame(frame: IncomingFrame): void {
    if (frame.type === 'ack' && typeof frame.seq === 'number' && frame.id && frame.messageId) {
      this.onAck({ id: frame.id, seq: frame.seq, messageId: frame.messageId });
      return;
    }
    if (sequencedTypes.has(frame.type) && frame.dialogId === this.dialogId && typeof frame.seq === 'number') {
      this.seen.push({
        seq: frame.seq,
        id: frame.message?.id ?? frame.messageId ?? '',
        clientId: frame.message?.clientId ?? null,
        body: frame.message?.body ?? null,
      });
      const reached = this.#waiters.filter(
        (waiter) => frame.seq !== undefined && frame.seq !== null && frame.seq >= waiter.seq,
      );
      this.#waiters = this.#waiters.filter((waiter) => !reached.includes(waiter));
      for (const waiter of reached) waiter.resolve();
      return;
    }
    if (
      frame.type !== 'pong' &&
      frame.type !== 'receipt' &&
      frame.type !== 'typing' &&
      frame.type !== 'presence'
    )
      this.unexpected.push(frame);
  }

  /** Closes (politely or abruptly) and resolves once the socket is gone: no frame of it is read after. */
  async disconnect(abruptly: boolean): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState === ws.CLOSED) return;
    const closed = once(ws, 'close');
    if (abruptly) ws.terminate();
    else ws.close();
    await closed;
  }

  /** Resolves once a frame with `seq` or later has arrived. */
  reached(seq: number): Promise<void> {
    if (this.lastSeq >= seq) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ seq, resolve }));
  }

  send(frame: unknown): void {
    this.ws?.send(JSON.stringify(frame));
  }
}

/** A small seeded generator (mulberry32), so a failing random schedule can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
