import type { WebSocket } from 'ws';

/**
 * Frames read and not yet handled, at most (count and bytes): past either, the socket is no longer read
 * until its backlog is handled, so a client writing while its frame waits fills its own buffers, not ours.
 */
export const BACKLOG_FRAMES = 128;
export const BACKLOG_BYTES = 1024 * 1024;

/**
 * Counts a socket's frames from the moment they are read to the moment they are handled, and stops reading
 * the socket while that backlog is full. Reading resumes only once it is half drained, so a client at the
 * limit is not paused and resumed on every frame.
 */
export class FrameBacklog {
  #frames = 0;
  #bytes = 0;

  constructor(private readonly ws: Pick<WebSocket, 'pause' | 'resume' | 'isPaused'>) {}

  /** A frame was read: pauses the socket when this fills the backlog. */
  add(bytes: number): void {
    this.#frames += 1;
    this.#bytes += bytes;
    if (this.#frames >= BACKLOG_FRAMES || this.#bytes >= BACKLOG_BYTES) this.ws.pause();
  }

  /** A frame was handled (or dropped): resumes a paused socket once the backlog is half drained. */
  remove(bytes: number): void {
    this.#frames -= 1;
    this.#bytes -= bytes;
    if (this.ws.isPaused && this.#frames < BACKLOG_FRAMES / 2 && this.#bytes < BACKLOG_BYTES / 2)
      this.ws.resume();
  }
}
