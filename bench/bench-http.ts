import { Agent, request } from 'undici';

/** Where a bench server answers: its base URL (`https://` or, behind a proxy, `http://`) and its CA. */
export interface HttpTarget {
  url: string;
  /** PEM of the server's self-signed certificate; unused over plain HTTP. */
  ca: string;
}

export interface HttpCall {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH';
  token?: string;
  json?: unknown;
  form?: Record<string, string>;
}

/**
 * HTTP(S) to the server child, trusting its self-signed certificate. One undici pool per instance:
 * `connections` bounds the sockets it opens, so an overloaded server sees a queue in this process (timed by
 * the caller from the scheduled start) rather than a storm of new TLS handshakes.
 */
export class Http {
  readonly #dispatcher: Agent;
  constructor(
    private readonly server: HttpTarget,
    connections?: number,
  ) {
    this.#dispatcher = new Agent({
      ...(server.url.startsWith('https:') ? { connect: { ca: server.ca, servername: 'localhost' } } : {}),
      ...(connections === undefined ? {} : { connections }),
    });
  }

  async call<T>(path: string, init: HttpCall = {}): Promise<T> {
    const { statusCode, text } = await this.#send(path, init);
    if (statusCode >= 300) throw new Error(`${path}: ${statusCode} ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** A GET whose body is read and dropped: its status (the load side of the REST read scenarios). */
  async status(path: string, token: string): Promise<number> {
    const response = await request(`${this.server.url}${path}`, {
      dispatcher: this.#dispatcher,
      method: 'GET',
      headers: { authorization: `Bearer ${token}` },
    });
    await response.body.arrayBuffer();
    return response.statusCode;
  }

  async #send(path: string, init: HttpCall): Promise<{ statusCode: number; text: string }> {
    const headers: Record<string, string> = {};
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    let body: string | null = null;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await request(`${this.server.url}${path}`, {
      dispatcher: this.#dispatcher,
      method: init.method ?? (body === null ? 'GET' : 'POST'),
      headers,
      body,
    });
    return { statusCode: response.statusCode, text: await response.body.text() };
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}
