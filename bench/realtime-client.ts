import { createSecureContext, type SecureContext } from 'node:tls';
import WebSocket, { type ClientOptions } from 'ws';

/** One TLS context per CA: building it per connection (parsing the CA) costs the client more than the handshake. */
const contexts = new Map<string, SecureContext>();

/** The server frames the bench reads; everything else is counted but not parsed further. */
export type ServerFrame =
  | { type: 'ready'; userId: string; epoch: string }
  | { type: 'ack'; id: string; dialogId: string; messageId: string; seq: number }
  | {
      type: 'message.new';
      dialogId: string;
      seq: number;
      message: { id: string; clientId: string | null; senderId: string };
    }
  | { type: 'error'; id?: string; code: string; message: string }
  | { type: 'pong' | 'resync' };

/**
 * A lean WSS client: one socket, JSON frames, no reconnect and no buffering. The bench measures the server,
 * so the client does as little as it can (one `JSON.parse` per frame) and hands each frame to `onFrame`.
 */
export class LeanSocket {
  onFrame: (frame: ServerFrame, receivedAt: number) => void = () => undefined;
  userId = '';
  epoch = '';

  private constructor(readonly ws: WebSocket) {}

  /** Opens, authenticates and resolves at `ready` (rejects on a close or error before that). */
  static connect(url: string, ca: string, token: string): Promise<LeanSocket> {
    let secureContext = contexts.get(ca);
    if (!secureContext) {
      secureContext = createSecureContext({ ca });
      contexts.set(ca, secureContext);
    }
    // ws hands unknown options on to tls.connect, which takes a prepared `secureContext`.
    const options: ClientOptions & { secureContext: SecureContext; servername: string } = {
      secureContext,
      servername: 'localhost',
      perMessageDeflate: false,
    };
    const ws = new WebSocket(`${url.replace('https:', 'wss:')}/v1/realtime`, options);
    const socket = new LeanSocket(ws);
    return new Promise((resolve, reject) => {
      const fail = (reason: string) => {
        reject(new Error(`realtime connect failed: ${reason}`));
      };
      ws.once('error', (error) => {
        fail(error.message);
      });
      ws.once('close', (code) => {
        fail(`closed ${code}`);
      });
      ws.once('open', () => {
        ws.send(JSON.stringify({ type: 'auth', token }));
      });
      ws.on('message', (data: Buffer) => {
        const receivedAt = performance.now();
        const frame = JSON.parse(data.toString('utf8')) as ServerFrame;
        if (frame.type === 'ready') {
          socket.userId = frame.userId;
          socket.epoch = frame.epoch;
          ws.removeAllListeners('close');
          ws.removeAllListeners('error');
          ws.on('error', () => undefined);
          resolve(socket);
          return;
        }
        socket.onFrame(frame, receivedAt);
      });
    });
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  close(): void {
    this.ws.close();
  }
}

/** Runs `task` over `items` with at most `concurrency` in flight; results in input order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
