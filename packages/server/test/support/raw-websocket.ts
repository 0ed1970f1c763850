import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import type { TestServer } from './start-server.ts';

/** WebSocket opcodes (RFC 6455 §5.2). */
export const opcodes = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** One frame as a client would put it on the wire; every field can be made wrong on purpose. */
export interface RawFrame {
  opcode: number;
  payload?: Buffer;
  /** FIN bit; true unless the test fragments a message. */
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4); must be 0 without a negotiated extension. */
  rsv?: number;
  /** Clients must mask (RFC 6455 §5.1): false sends the payload in clear, without a masking key. */
  masked?: boolean;
  /** A masking key to use instead of a random one. */
  maskKey?: Buffer;
  /** Announce this payload length instead of the real one (lies about the size). */
  announcedLength?: bigint;
}

/** Encodes a frame byte for byte as RFC 6455 §5.2 lays it out, without checking that it is valid. */
export function encodeFrame(frame: RawFrame): Buffer {
  const payload = frame.payload ?? Buffer.alloc(0);
  const masked = frame.masked ?? true;
  const length = frame.announcedLength ?? BigInt(payload.length);
  const first = ((frame.fin ?? true) ? 0x80 : 0) | (((frame.rsv ?? 0) & 7) << 4) | (frame.opcode & 0x0f);
  const maskBit = masked ? 0x80 : 0;
  let header: Buffer;
  if (length < 126n) {
    header = Buffer.from([first, maskBit | Number(length)]);
  } else if (length < 65_536n) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = maskBit | 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(length, 2);
  }
  if (!masked) return Buffer.concat([header, payload]);
  const key = frame.maskKey ?? randomBytes(4);
  const body = Buffer.from(payload.map((byte, index) => byte ^ (key[index % 4] ?? 0)));
  return Buffer.concat([header, key, body]);
}

/** A close frame's payload: a 2-byte code and a reason. */
export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code);
  return Buffer.concat([head, Buffer.from(reason)]);
}

export interface ReceivedFrame {
  opcode: number;
  payload: Buffer;
}

/**
 * A WebSocket client built by hand over `node:tls`: it does the HTTP upgrade itself, then writes whatever
 * bytes a test gives it, so frames no conforming library would send can reach the server. It parses what
 * the server sends back and, unlike a real client, never answers a close frame unless told to.
 */
export class RawWebSocket {
  readonly frames: ReceivedFrame[] = [];
  /** The code of the server's close frame (1005 when it carried none), once one arrives. */
  readonly closeCode: Promise<number>;
  /** Resolves when the TCP connection has ended, for whatever reason. */
  readonly ended: Promise<void>;
  #buffer = Buffer.alloc(0);
  #onClose: (code: number) => void = () => undefined;
  readonly #waiters: { match: (text: string) => boolean; resolve: (text: string) => void }[] = [];
  readonly #taken = new Set<ReceivedFrame>();

  private constructor(
    readonly socket: tls.TLSSocket,
    /** The TCP connection under TLS, so a test can reset it (RST) as a vanished peer would. */
    private readonly tcp: net.Socket,
  ) {
    this.closeCode = new Promise((resolve) => {
      this.#onClose = resolve;
    });
    this.ended = once(socket, 'close').then(() => undefined);
    // A reset or a write after the server hung up is expected in these tests; it must not fail them.
    socket.on('error', () => undefined);
  }

  static async open(server: TestServer): Promise<RawWebSocket> {
    const { hostname, port } = new URL(server.url);
    const tcp = net.connect(Number(port), hostname);
    const socket = tls.connect({
      socket: tcp,
      servername: 'localhost',
      ...(server.ca ? { ca: server.ca } : {}),
    });
    await once(socket, 'secureConnect');
    socket.write(
      [
        'GET /v1/realtime HTTP/1.1',
        `Host: localhost:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        '',
        '',
      ].join('\r\n'),
    );
    const raw = new RawWebSocket(socket, tcp);
    await raw.#handshake();
    return raw;
  }

  async #handshake(): Promise<void> {
    let received = Buffer.alloc(0);
    for (;;) {
      const [chunk] = (await once(this.socket, 'data')) as [Buffer];
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) continue;
      const head = received.subarray(0, end).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101'))
        throw new Error(`upgrade refused: ${head.split('\r\n')[0] ?? ''}`);
      this.socket.on('data', (data: Buffer) => {
        this.#receive(data);
      });
      this.#receive(received.subarray(end + 4));
      return;
    }
  }

  #receive(data: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, data]);
    for (;;) {
      const frame = this.#takeFrame();
      if (!frame) return;
      this.frames.push(frame);
      if (frame.opcode === opcodes.close)
        this.#onClose(frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005);
      if (frame.opcode !== opcodes.text) continue;
      const text = frame.payload.toString('utf8');
      for (const waiter of [...this.#waiters]) {
        if (!this.#taken.has(frame) && waiter.match(text)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          this.#taken.add(frame);
          waiter.resolve(text);
        }
      }
    }
  }

  /** Server frames are never masked or fragmented by our server; lengths up to 2^53 fit a number. */
  #takeFrame(): ReceivedFrame | undefined {
    const buffer = this.#buffer;
    if (buffer.length < 2) return undefined;
    let length = (buffer[1] ?? 0) & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (buffer.length < 4) return undefined;
      length = buffer.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (buffer.length < 10) return undefined;
      length = Number(buffer.readBigUInt64BE(2));
      offset = 10;
    }
    if (buffer.length < offset + length) return undefined;
    this.#buffer = buffer.subarray(offset + length);
    return { opcode: (buffer[0] ?? 0) & 0x0f, payload: buffer.subarray(offset, offset + length) };
  }

  /** The first text frame not yet taken (already received or still to come) whose text matches. */
  nextText(match: (text: string) => boolean): Promise<string> {
    const seen = this.frames.find(
      (frame) =>
        frame.opcode === opcodes.text && !this.#taken.has(frame) && match(frame.payload.toString('utf8')),
    );
    if (seen) {
      this.#taken.add(seen);
      return Promise.resolve(seen.payload.toString('utf8'));
    }
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  send(frame: RawFrame): void {
    this.write(encodeFrame(frame));
  }

  /** A well-formed, masked text frame with this JSON. */
  sendJson(value: unknown): void {
    this.send({ opcode: opcodes.text, payload: Buffer.from(JSON.stringify(value)) });
  }

  /** Half-closes our side (TCP FIN after TLS close_notify): the server ends the connection in turn. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Drops the TCP connection with a RST, so the server's next read fails with ECONNRESET. */
  reset(): void {
    this.tcp.resetAndDestroy();
  }
}
