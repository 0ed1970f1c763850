import { Agent, request } from 'undici';

/** REST calls to a bench server: HTTPS trusting its self-signed certificate, or plain HTTP behind no proxy. */
export class GrownHttp {
  readonly #dispatcher: Agent;

  constructor(
    private readonly url: string,
    ca: string,
  ) {
    this.#dispatcher = new Agent(
      url.startsWith('https:') ? { connect: { ca, servername: 'localhost' } } : {},
    );
  }

  async call<T>(
    path: string,
    init: { token?: string; json?: unknown; form?: Record<string, string> } = {},
  ): Promise<T> {
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
    const response = await request(`${this.url}${path}`, {
      dispatcher: this.#dispatcher,
      method: body === null ? 'GET' : 'POST',
      headers,
      body,
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`${path}: ${response.statusCode} ${text}`);
    return JSON.parse(text) as T;
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}

/** Runs `task` over `items` with at most `concurrency` in flight; results in input order. */
export async function eachLimited<T, R>(
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
