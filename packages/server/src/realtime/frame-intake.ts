import { type ClientFrame, closeCodes } from '@parley/protocol';
import type { WebSocket } from 'ws';
import type { RealtimeMetrics, SecurityMetrics } from '../observability/metrics.ts';
import { FrameBacklog } from './frame-backlog.ts';
import { checkClientFrame, frameId, frameText, parseFrameObject } from './frame-parser.ts';
import { FrameThrottle } from './frame-throttle.ts';
import type { FrameWriter } from './frame-writer.ts';

export interface FrameIntakeDeps {
  ws: WebSocket;
  writer: FrameWriter;
  limits: { framesPerSecond: number; maxViolations: number };
  metrics: { realtime: Pick<RealtimeMetrics, 'frameIn'>; security: Pick<SecurityMetrics, 'rateLimited'> };
  /** Queues work behind everything queued before it: the socket's one queue, shared with deliveries. */
  enqueue: (work: () => Promise<void>) => void;
  /** Handles one valid frame; called for each in arrival order, never two at once. */
  handle: (frame: ClientFrame) => Promise<void>;
}

/**
 * Turns what a client writes into valid frames, in arrival order, within its limits: the read backlog
 * (reading pauses while it is full), the frame rate, and the violations tolerated. Refused frames are
 * answered with an `error` frame here; only valid ones reach `handle`.
 */
export class FrameIntake {
  readonly #throttle: FrameThrottle;
  readonly #backlog: FrameBacklog;

  constructor(private readonly deps: FrameIntakeDeps) {
    this.#throttle = new FrameThrottle(deps.limits.framesPerSecond, deps.limits.maxViolations);
    this.#backlog = new FrameBacklog(deps.ws);
  }

  /** Starts reading the socket's frames. */
  listen(): void {
    this.deps.ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary) => {
      this.#onData(data, isBinary);
    });
  }

  #onData(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    const { ws } = this.deps;
    // Closing (a bad first frame or token, abuse, an ended session): nothing more is handled, so frames
    // queued behind the one that closed it cost nothing (each auth frame would be a database lookup).
    if (ws.readyState !== ws.OPEN) return;
    this.deps.metrics.realtime.frameIn();
    const text = frameText(data, isBinary);
    const bytes = text === null ? 0 : text.length;
    // Counted from now until handled: a frame waiting in the queue holds its text in memory.
    this.#backlog.add(bytes);
    this.deps.enqueue(async () => {
      try {
        if (ws.readyState === ws.OPEN) await this.#onFrame(text);
      } finally {
        this.#backlog.remove(bytes);
      }
    });
  }

  async #onFrame(text: string | null): Promise<void> {
    const parsed = parseFrameObject(text);
    // Every frame takes a token, valid or not; the frame's id, when it has one, tells the client which
    // request to retry later.
    if (!this.#throttle.take()) {
      this.deps.metrics.security.rateLimited('realtime');
      this.#violation('rate_limited', 'Too many frames; slow down.', frameId(parsed));
      return;
    }
    if (parsed === undefined) {
      this.#violation('malformed_frame', 'Frames are JSON objects sent as text.');
      return;
    }
    const checked = checkClientFrame(parsed);
    if (!checked.valid) {
      this.#violation('invalid_frame', checked.message, frameId(parsed));
      return;
    }
    await this.deps.handle(checked.frame);
  }

  /** A refused frame: an `error` frame, and the socket closed once it has had too many. */
  #violation(code: string, message: string, id?: string): void {
    const tooMany = this.#throttle.violated();
    this.deps.writer.send({ type: 'error', ...(id === undefined ? {} : { id }), code, message });
    if (tooMany) this.deps.ws.close(closeCodes.rateLimited, 'too many bad frames');
  }
}
