import { once } from 'node:events';
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
      message: { clientId: string | null; senderId: string };
    }
  | { type: 'message.edited' | 'message.deleted' | 'message.reactions'; dialogId: string; seq: number }
  | { type: 'error'; id?: string; code: string; message: string }
  | { type: 'pong' | 'resync' };

/** A dialog position sent with `auth` so the server replays what came after it. */
export type ResumePositions = Record<string, { seq: number; epoch: string }>;

export interface ConnectOptions {
  /** Sent in the `auth` frame: replayed before any live delivery. */
  positions?: ResumePositions;
  /** Installed before `auth` is sent, so no frame right after `ready` (a replay) can be missed. */
  onFrame?: (frame: ServerFrame, receivedAt: number) => void;
}

const MESSAGE_NEW_PREFIX = '{"type":"message.new","seq":';

/** The value of the first `"key":"…"` in `text` (a JSON string without escapes), or undefined. */
function stringField(text: string, key: string, from = 0): string | null | undefined {
  const marker = `"${key}":`;
  const at = text.indexOf(marker, from);
  if (at < 0) return undefined;
  const start = at + marker.length;
  if (text.startsWith('null', start)) return null;
  const end = text.indexOf('"', start + 1);
  return end < 0 ? undefined : text.slice(start + 1, end);
}

/**
 * `message.new` frames are most of what the bench receives (49 per message in a 50-member group), so the ids
 * it needs are read from the text instead of parsing the whole frame. The server writes
 * `{"type":"message.new","seq":N,"message":{"id","dialogId","seq","senderId","clientId","body",…},"dialogId",
 * "epoch"}`: `senderId` and `clientId` come before any user text, the frame's own `dialogId` is the last
 * one. Anything else, or a shape that does not match, is parsed as JSON.
 */
function parseFrame(text: string): ServerFrame {
  if (text.startsWith(MESSAGE_NEW_PREFIX)) {
    const seq = Number.parseInt(text.slice(MESSAGE_NEW_PREFIX.length, MESSAGE_NEW_PREFIX.length + 20), 10);
    const senderId = stringField(text, 'senderId');
    const clientId = stringField(text, 'clientId');
    const dialogId = stringField(text, 'dialogId', text.lastIndexOf('"dialogId":'));
    if (Number.isSafeInteger(seq) && typeof senderId === 'string' && clientId !== undefined && dialogId)
      return { type: 'message.new', seq, dialogId, message: { senderId, clientId } };
  }
  return JSON.parse(text) as ServerFrame;
}

/**
 * A lean realtime client: one socket, JSON frames, no reconnect and no buffering. The bench measures the
 * server, so the client does as little as it can and hands each frame to `onFrame`. `wss://` when the server
 * URL is `https://`, `ws://` for a server behind a proxy (plain HTTP).
 */
export class LeanSocket {
  onFrame: (frame: ServerFrame, receivedAt: number) => void;
  userId = '';
  epoch = '';

  private constructor(
    readonly ws: WebSocket,
    onFrame: ConnectOptions['onFrame'],
  ) {
    this.onFrame = onFrame ?? (() => undefined);
  }

  /** Opens, authenticates and resolves at `ready` (rejects on a close or error before that). */
  static connect(url: string, ca: string, token: string, connect: ConnectOptions = {}): Promise<LeanSocket> {
    const secure = url.startsWith('https:');
    const options: ClientOptions & { secureContext?: SecureContext; servername?: string } = {
      perMessageDeflate: false,
      // The server under test is trusted: checking each frame's UTF-8 in JavaScript (no native validator is
      // installed) would cost the generator per delivery, 49 per message in the group scenario.
      skipUTF8Validation: true,
    };
    if (secure) {
      let secureContext = contexts.get(ca);
      if (!secureContext) {
        secureContext = createSecureContext({ ca });
        contexts.set(ca, secureContext);
      }
      // ws hands unknown options on to tls.connect, which takes a prepared `secureContext`.
      options.secureContext = secureContext;
      options.servername = 'localhost';
    }
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/realtime`, options);
    const socket = new LeanSocket(ws, connect.onFrame);
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
        ws.send(
          JSON.stringify(
            connect.positions === undefined
              ? { type: 'auth', token }
              : { type: 'auth', token, positions: connect.positions },
          ),
        );
      });
      ws.on('message', (data: Buffer) => {
        const receivedAt = performance.now();
        const frame = parseFrame(data.toString('utf8'));
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

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
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

/** Closes every socket still open and waits until each has closed. */
export async function closeAll(sockets: readonly LeanSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(async (socket) => {
      if (socket.ws.readyState === socket.ws.CLOSED) return;
      const closed = once(socket.ws, 'close');
      socket.close();
      await closed;
    }),
  );
}
