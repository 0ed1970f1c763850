import type { Writable } from 'node:stream';
import { closeCodes, type ServerFrame } from '@parley/protocol';
import type { WebSocket } from 'ws';
import type { RealtimeMetrics } from '../observability/metrics.ts';

/**
 * Writes a socket's frames. Nothing is written to a socket that is not open; a client too slow to read
 * (more than `sendBufferBytes` waiting) is closed with `resume` instead of being buffered for; and the frames
 * of one event-loop turn leave in one TLS write.
 */
export class FrameWriter {
  #corked = false;

  constructor(
    private readonly ws: WebSocket,
    /** The TLS socket under `ws`, corked while a turn's frames are written. */
    private readonly socket: Pick<Writable, 'cork' | 'uncork'>,
    private readonly sendBufferBytes: number,
    private readonly metrics: Pick<RealtimeMetrics, 'frameOut'>,
  ) {}

  send(frame: ServerFrame): void {
    this.sendText(JSON.stringify(frame));
  }

  /** Sends a frame already serialised (a shared page's frames are serialised once for every socket). */
  sendText(text: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.sendBufferBytes) {
      this.ws.close(closeCodes.resume, 'send buffer full: reconnect and resume');
      return;
    }
    // Frames written in one turn (a page of messages, several acks) leave in one TLS write, not one each.
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.socket.uncork();
      });
    }
    this.ws.send(text);
    this.metrics.frameOut();
  }
}
