import { once } from 'node:events';
import WebSocket from 'ws';
import type { TestServer } from './start-server.ts';

export type Frame = Record<string, unknown> & { type: string };

/** A WSS client that collects frames and lets a test await the next frame matching a predicate. */
export class Socket {
  readonly frames: Frame[] = [];
  readonly #waiters: { match: (frame: Frame) => boolean; resolve: (frame: Frame) => void }[] = [];
  closed: Promise<[number, Buffer]>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as Frame;
      this.frames.push(frame);
      for (const waiter of [...this.#waiters]) {
        if (waiter.match(frame)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(frame);
        }
      }
    });
    this.closed = once(ws, 'close') as Promise<[number, Buffer]>;
  }

  next(match: (frame: Frame) => boolean): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }
}

/** A signed-in realtime socket on `server` (resolves once `ready` arrived). */
export async function openSocket(server: Pick<TestServer, 'url' | 'ca'>, token: string): Promise<Socket> {
  const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
  await once(ws, 'open');
  const socket = new Socket(ws);
  socket.send({ type: 'auth', token });
  await socket.next((frame) => frame.type === 'ready');
  return socket;
}
