import tls from 'node:tls';

/** One HTTP/1.1 response as it came over the wire, header names lower-cased. */
export interface RawResponse {
  statusLine: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

const headEnd = Buffer.from('\r\n\r\n');

/**
 * A TLS connection that writes whatever bytes a test gives it and parses the responses that come back, so
 * tests can send what no HTTP client library would (bad request lines, lying Content-Length, huge headers)
 * and check what happens to the same keep-alive connection afterwards.
 */
export class RawHttpsConnection {
  #buffer = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | undefined;
  /** Resolves when the server has closed its side (end or reset). */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake?.();
    });
    this.closed = new Promise((resolve) => {
      const finish = () => {
        this.#ended = true;
        this.#wake?.();
        resolve();
      };
      socket.once('end', finish);
      socket.once('close', finish);
      socket.on('error', () => undefined); // A reset after the answer is a close, not a test failure.
    });
  }

  static open(url: string, ca: string | undefined): Promise<RawHttpsConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: hostname, port: Number(port), servername: 'localhost', ca }, () => {
        socket.off('error', reject);
        resolve(new RawHttpsConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Half-closes our side: the server sees end-of-stream but may still answer. */
  endWriting(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The next complete response; rejects if the connection closes first. */
  async readResponse(): Promise<RawResponse> {
    for (;;) {
      const response = this.#take();
      if (response) return response;
      if (this.#ended)
        throw new Error(`connection closed; unparsed bytes: ${this.#buffer.toString('latin1')}`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  /** Whether the server closed the connection without sending anything more. */
  async closesWithoutMore(): Promise<boolean> {
    await this.closed;
    return this.#buffer.length === 0;
  }

  #take(): RawResponse | undefined {
    const end = this.#buffer.indexOf(headEnd);
    if (end < 0) return undefined;
    const [statusLine = '', ...lines] = this.#buffer.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyStart = end + headEnd.length;
    let bodyEnd: number;
    if (headers['content-length'] !== undefined) {
      bodyEnd = bodyStart + Number(headers['content-length']);
      if (this.#buffer.length < bodyEnd) return undefined;
    } else if (headers['transfer-encoding'] === 'chunked') {
      throw new Error('chunked responses are not expected from the error paths');
    } else {
      if (!this.#ended) return undefined; // Body runs to the end of the connection.
      bodyEnd = this.#buffer.length;
    }
    const body = this.#buffer.subarray(bodyStart, bodyEnd).toString('utf8');
    this.#buffer = this.#buffer.subarray(bodyEnd);
    return { statusLine, status: Number(statusLine.split(' ')[1]), headers, body };
  }
}
