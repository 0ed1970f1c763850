import type { ClientFrame, ServerFrame } from '@parley/protocol';
import { FramePacer } from './frame-pacer.ts';
import { Heartbeat, type HeartbeatOptions } from './heartbeat.ts';
import { parseServerFrame } from './realtime-frames.ts';
import { OPEN, type WebSocketConstructor, type WebSocketLike } from './websocket-port.ts';

export interface RealtimeSocketOptions {
  WebSocket: WebSocketConstructor;
  url: string;
  heartbeat: HeartbeatOptions;
  framesPerSecond: number;
}

export interface RealtimeSocketEvents {
  open(): void;
  frame(frame: ServerFrame): void;
  /** Reported once, unless the client closed the socket itself. 1006 when the connection just died. */
  closed(code: number, reason: string): void;
}

/** The code a dead connection gets, as browsers report it. */
const ABNORMAL_CLOSURE = 1006;

/**
 * One WebSocket connection: paced JSON frames out, parsed frames in, a heartbeat, and exactly one report
 * of its end. Reconnecting is the client's job; a socket is never reused.
 */
export class RealtimeSocket {
  readonly #ws: WebSocketLike;
  readonly #pacer: FramePacer;
  readonly #heartbeat: Heartbeat;
  readonly #events: RealtimeSocketEvents;
  #ended = false;

  constructor(options: RealtimeSocketOptions, events: RealtimeSocketEvents) {
    this.#events = events;
    this.#pacer = new FramePacer(options.framesPerSecond);
    this.#heartbeat = new Heartbeat(
      options.heartbeat,
      () => {
        this.write({ type: 'ping' });
      },
      () => {
        this.#end(ABNORMAL_CLOSURE, 'heartbeat timeout', true);
      },
    );
    const ws = new options.WebSocket(options.url);
    this.#ws = ws;
    ws.onopen = () => {
      if (!this.#ended) events.open();
    };
    ws.onmessage = (event) => {
      if (this.#ended) return;
      this.#heartbeat.alive();
      const frame = parseServerFrame(event.data);
      if (frame) events.frame(frame);
    };
    // An error is always followed by a close event; the handler must exist (`ws` throws without one).
    ws.onerror = () => undefined;
    ws.onclose = (event) => {
      this.#end(event.code, event.reason, false);
    };
    // Counts from now: a connection attempt that hangs is caught like a silent connection.
    this.#heartbeat.alive();
  }

  /** True once open and until it ends: frames written now go out on this connection. */
  get isOpen(): boolean {
    return !this.#ended && this.#ws.readyState === OPEN;
  }

  /**
   * Queues a frame behind the earlier ones. Dropped when the connection is not open (the client writes
   * `auth` first thing on open, so nothing may queue up ahead of it) or ends before the frame's turn.
   */
  write(frame: ClientFrame): void {
    if (!this.isOpen) return;
    const text = JSON.stringify(frame);
    this.#pacer.push(() => {
      if (!this.#ended && this.#ws.readyState === OPEN) this.#ws.send(text);
    });
  }

  /** Closes the connection without reporting it: the client decided. */
  close(code = 1000, reason = 'client closed'): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#cleanUp();
    try {
      this.#ws.close(code, reason);
    } catch {
      // Already closing or never opened: nothing left to do.
    }
  }

  #end(code: number, reason: string, abort: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#cleanUp();
    if (abort) {
      // A dead peer never answers a closing handshake: `ws` can drop the connection at once, a browser
      // closes it in the background.
      const ws = this.#ws as WebSocketLike & { terminate?: () => void };
      try {
        if (typeof ws.terminate === 'function') ws.terminate();
        else ws.close();
      } catch {
        // Nothing to do: the connection is gone either way.
      }
    }
    this.#events.closed(code, reason);
  }

  #cleanUp(): void {
    this.#heartbeat.stop();
    this.#pacer.clear();
  }
}
