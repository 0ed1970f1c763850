import type { DialogPosition, ServerFrame } from '@parley/protocol';
import type { AccessTokenSource } from './access-token-source.ts';
import { actionAfterClose, closeCodes } from './close-policy.ts';
import { defaultHeartbeat, type HeartbeatOptions } from './heartbeat.ts';
import { MemoryPositionStore } from './memory-position-store.ts';
import { OutgoingQueue } from './outgoing-queue.ts';
import type { PositionStore } from './position-store.ts';
import { type BackoffOptions, defaultBackoff, ReconnectBackoff } from './reconnect-backoff.ts';
import { RealtimeError } from './realtime-error.ts';
import type { ConnectionEvent, ConnectionState, RealtimeEvents } from './realtime-events.ts';
import {
  type AckFrame,
  type AnswerOf,
  isCallRequest,
  isRequestAnswer,
  isSequenced,
  type NotifyFrame,
  type RequestFrame,
  type RequestInput,
  type ServerFrameOf,
} from './realtime-frames.ts';
import { RealtimeSocket } from './realtime-socket.ts';
import { StreamPositions } from './stream-positions.ts';
import { TypedEmitter } from './typed-emitter.ts';
import type { WebSocketConstructor } from './websocket-port.ts';

export interface RealtimeClientOptions {
  /** `wss://HOST:PORT/v1/realtime` */
  url: string;
  tokens: AccessTokenSource;
  /** The browser's global `WebSocket` when absent; in Node pass `ws` (or a subclass with TLS options). */
  WebSocket?: WebSocketConstructor;
  /** Where resume positions live; in memory when absent. */
  positions?: PositionStore;
  backoff?: Partial<BackoffOptions>;
  heartbeat?: Partial<HeartbeatOptions>;
  /** Most requests waiting for an ack; more are refused with `queue_full`. Default 1000. */
  maxQueued?: number;
  /** Outgoing frames per second; keep it at or below the server's `PARLEY_REALTIME_FRAMES_PER_SECOND`. Default 50. */
  framesPerSecond?: number;
  /** Largest frame the server accepts (`PARLEY_REALTIME_MAX_FRAME_BYTES`). Default 131072. */
  maxFrameBytes?: number;
}

/** Options of {@link RealtimeClient.send}; `id` is the client id (a random UUID when absent). */
export interface SendOptions {
  id?: string;
  replyTo?: string;
  mentions?: string[];
}

/**
 * The realtime connection: authenticates with the current access token, reconnects with back-off and
 * resumes every known dialog, keeps unacknowledged requests and re-sends them with the same client id, and
 * hands each stream position to the app once and in order. See docs/realtime.md, "Client SDK".
 */
export class RealtimeClient {
  readonly #url: string;
  readonly #tokens: AccessTokenSource;
  readonly #WebSocket: WebSocketConstructor | undefined;
  readonly #heartbeat: HeartbeatOptions;
  readonly #framesPerSecond: number;
  readonly #maxFrameBytes: number;
  readonly #positions: StreamPositions;
  readonly #queue: OutgoingQueue;
  readonly #backoff: ReconnectBackoff;
  readonly #events = new TypedEmitter<RealtimeEvents>();
  #state: ConnectionState = 'idle';
  #socket: RealtimeSocket | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #refusedInARow = 0;
  #presence: Extract<NotifyFrame, { type: 'presence.subscribe' }> | undefined;
  #ready: ServerFrameOf<'ready'> | undefined;

  constructor(options: RealtimeClientOptions) {
    this.#url = options.url;
    this.#tokens = options.tokens;
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.#heartbeat = { ...defaultHeartbeat, ...options.heartbeat };
    this.#framesPerSecond = options.framesPerSecond ?? 50;
    this.#maxFrameBytes = options.maxFrameBytes ?? 131_072;
    this.#positions = new StreamPositions(options.positions ?? new MemoryPositionStore());
    this.#queue = new OutgoingQueue(options.maxQueued ?? 1000);
    this.#backoff = new ReconnectBackoff({ ...defaultBackoff, ...options.backoff });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The user and database epoch of the last `ready`; undefined before the first. */
  get session(): { userId: string; epoch: string } | undefined {
    return this.#ready && { userId: this.#ready.userId, epoch: this.#ready.epoch };
  }

  /** This connection's device id from the last `ready` (what calls ring and signal to); undefined before it. */
  get deviceId(): string | undefined {
    return this.#ready?.deviceId;
  }

  /** The resume positions (what the app has been handed, per dialog). */
  get positions(): PositionStore {
    return this.#positions.store;
  }

  /** Number of requests waiting for an ack. */
  get pending(): number {
    return this.#queue.size;
  }

  /** Listens to a server frame type (typed by it) or to `connection`; answers the function that stops it. */
  on<K extends keyof RealtimeEvents>(type: K, listener: (event: RealtimeEvents[K]) => void): () => void {
    return this.#events.on(type, listener);
  }

  /** Resolves with the session at the next `ready` (at once when ready now); rejects if the client closes first. */
  whenReady(): Promise<{ userId: string; epoch: string }> {
    const current = this.session;
    if (this.#state === 'ready' && current) return Promise.resolve(current);
    return new Promise((resolve, reject) => {
      const stop = this.on('connection', (event) => {
        const session = this.session;
        if (event.state === 'ready' && session) {
          stop();
          resolve(session);
        } else if (event.state === 'closed') {
          stop();
          reject(event.error ?? new RealtimeError('closed', 'The realtime client was closed.'));
        }
      });
    });
  }

  /** Opens the connection (and keeps it open until {@link RealtimeClient.close}). */
  connect(): void {
    if (this.#state !== 'idle' && this.#state !== 'closed') return;
    this.#backoff.reset();
    this.#refusedInARow = 0;
    this.#open();
  }

  /** Closes the connection; requests still waiting for an ack are refused with `closed`. */
  close(): void {
    this.#stop(new RealtimeError('closed', 'The realtime client was closed.'), undefined);
  }

  /** Sends a message; resolves with the ack (sent only after commit), retried with the same client id. */
  send(dialogId: string, body: string, options: SendOptions = {}): Promise<AckFrame> {
    return this.request({ type: 'message.send', dialogId, body, ...options });
  }

  /**
   * Queues any acknowledged request (`message.send`, `message.edit`, `message.delete`, `reaction`): sent now
   * when connected, otherwise after the next connect; re-sent with the same `id` after every reconnect until
   * the server acks it (resolves) or refuses it with an error code (rejects with {@link RealtimeError}).
   * Call requests (`call.start`, `call.accept`, `call.reject`, `call.hangup`) resolve with `call.created` or
   * `call.ack`; they belong to this connection, so they are refused with `disconnected` when not `ready`
   * or when the connection ends before the answer, never re-sent.
   */
  request<I extends RequestInput>(input: I): Promise<AnswerOf<I['type']>> {
    if (this.#state === 'closed')
      return Promise.reject(new RealtimeError('closed', 'The realtime client is closed.'));
    const frame: RequestFrame = { ...input, id: input.id ?? globalThis.crypto.randomUUID() };
    if (isCallRequest(frame) && (this.#state !== 'ready' || !this.#socket?.isOpen))
      return Promise.reject(
        new RealtimeError('disconnected', 'Call requests need a connected (ready) realtime client.'),
      );
    const bytes = new TextEncoder().encode(JSON.stringify(frame)).length;
    if (bytes > this.#maxFrameBytes)
      return Promise.reject(
        new RealtimeError(
          'frame_too_large',
          `The frame is ${bytes} bytes; the limit is ${this.#maxFrameBytes}.`,
        ),
      );
    const before = this.#queue.size;
    const acked = this.#queue.add(frame);
    if (this.#queue.size > before && this.#socket?.isOpen) this.#socket.write(frame);
    return acked as Promise<AnswerOf<I['type']>>;
  }

  /**
   * Sends a fire-and-forget frame (`read`, `delivered`, `typing`, `presence.subscribe`, `ping`) if connected;
   * answers whether it went out. The last `presence.subscribe` is sent again after every reconnect.
   */
  notify(frame: NotifyFrame): boolean {
    if (frame.type === 'presence.subscribe') this.#presence = frame;
    if (!this.#socket?.isOpen) return false;
    this.#socket.write(frame);
    return true;
  }

  /**
   * Follows a dialog from a position learned elsewhere (e.g. its `lastSeq` over REST, with `session.epoch`,
   * or after a `resync`): the server replays everything after it, now if connected, else on connect.
   * Without a position, a dialog's events start at the first one delivered live.
   */
  track(dialogId: string, position: DialogPosition): void {
    if (!this.#positions.track(dialogId, position)) return;
    this.#socket?.write({ type: 'resume', positions: { [dialogId]: position } });
  }

  #open(): void {
    // Only the first open, from connect(), can get here without one: it throws to the caller.
    const WebSocket = this.#WebSocket;
    if (!WebSocket)
      throw new TypeError(
        'No WebSocket implementation: pass one as `WebSocket` (in Node, the `ws` package).',
      );
    const token = this.#tokens.current();
    if (token === undefined) {
      this.#stop(new RealtimeError('unauthorized', 'Not signed in.'), undefined);
      return;
    }
    this.#emitState({ state: 'connecting' });
    const socket: RealtimeSocket = new RealtimeSocket(
      {
        WebSocket,
        url: this.#url,
        heartbeat: this.#heartbeat,
        framesPerSecond: this.#framesPerSecond,
      },
      {
        open: () => {
          this.#onOpen(socket, token);
        },
        frame: (frame) => {
          this.#onFrame(frame);
        },
        closed: (code, reason) => {
          this.#onClosed(token, code, reason);
        },
      },
    );
    this.#socket = socket;
  }

  #onOpen(socket: RealtimeSocket, token: string): void {
    // Positions travel in `auth`: the server replays them before any live delivery can start past a gap.
    // Beyond the first 1000 dialogs they follow in `resume` frames, written at once behind `auth`.
    const [first, ...rest] = this.#positions.resumeChunks();
    socket.write({ type: 'auth', token, ...(first ? { positions: first } : {}) });
    for (const positions of rest) socket.write({ type: 'resume', positions });
    if (this.#presence) socket.write(this.#presence);
    for (const frame of this.#queue.frames()) if (!isCallRequest(frame)) socket.write(frame);
  }

  #onFrame(frame: ServerFrame): void {
    if (isSequenced(frame) && !this.#positions.accept(frame)) return;
    if (frame.type === 'ready') {
      this.#ready = frame;
      this.#backoff.reset();
      this.#refusedInARow = 0;
      this.#emitState({ state: 'ready' });
    } else if (isRequestAnswer(frame)) {
      this.#queue.acknowledge(frame);
    } else if (frame.type === 'error' && frame.id !== undefined) {
      this.#queue.fail(frame.id, new RealtimeError(frame.code, frame.message));
    } else if (frame.type === 'resync') {
      this.#positions.forget(frame.dialogId);
    }
    this.#events.emit(frame.type, frame);
  }

  #onClosed(token: string, code: number, reason: string): void {
    this.#socket = undefined;
    if (this.#state === 'closed') return;
    this.#queue.failWhere(
      isCallRequest,
      new RealtimeError('disconnected', 'The connection ended before the call request was answered.'),
    );
    const action = actionAfterClose(code);
    if (action.kind === 'stop') {
      this.#stop(
        new RealtimeError(action.code, `The server refused the connection (${code}).`),
        code,
        reason,
      );
      return;
    }
    if (code === closeCodes.tooLarge) this.#dropLargestRequest();
    if (action.kind === 'renew-token') {
      void this.#renewThenOpen(token, code, reason);
      return;
    }
    this.#scheduleOpen(action.minDelayMs, code, reason);
  }

  /** After 4001: a fresh token, then at once a new connection; twice refused in a row means signed out. */
  async #renewThenOpen(rejected: string, code: number, reason: string): Promise<void> {
    this.#refusedInARow += 1;
    const ended = new RealtimeError('unauthorized', 'The session has ended: sign in again.');
    if (this.#refusedInARow > 2) {
      this.#stop(ended, code, reason);
      return;
    }
    this.#emitState({ state: 'reconnecting', closeCode: code, reason });
    let renewed: string | undefined;
    try {
      renewed = await this.#tokens.renew(rejected);
    } catch {
      // Offline or the server is struggling: try again later (and renew again if the token is still refused).
      if (this.#state === 'reconnecting') this.#scheduleOpen(0, code, reason);
      return;
    }
    if (this.#state !== 'reconnecting') return;
    if (renewed === undefined) this.#stop(ended, code, reason);
    else this.#open();
  }

  #scheduleOpen(minDelayMs: number, code: number, reason: string): void {
    const retryInMs = this.#backoff.next(minDelayMs);
    this.#emitState({ state: 'reconnecting', closeCode: code, reason, retryInMs });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#state === 'reconnecting') this.#open();
    }, retryInMs);
  }

  /** A 1009 despite the size check (the server's limit is lower): the largest request is the likely cause. */
  #dropLargestRequest(): void {
    const largest = this.#queue
      .frames()
      .map((frame) => ({ frame, size: JSON.stringify(frame).length }))
      .sort((a, b) => b.size - a.size)[0];
    if (largest)
      this.#queue.fail(
        largest.frame.id,
        new RealtimeError('frame_too_large', 'The server closed the connection: frame too large.'),
      );
  }

  #stop(error: RealtimeError, code: number | undefined, reason?: string): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close();
    const wasClosed = this.#state === 'closed';
    this.#state = 'closed';
    this.#queue.failAll(error);
    if (wasClosed) return;
    this.#events.emit('connection', {
      state: 'closed',
      ...(code === undefined ? {} : { closeCode: code }),
      ...(reason === undefined ? {} : { reason }),
      ...(error.code === 'closed' ? {} : { error }),
    });
  }

  #emitState(event: ConnectionEvent): void {
    this.#state = event.state;
    this.#events.emit('connection', event);
  }
}
