import type { ErrorBody, HealthBody, VersionBody } from '@parley/protocol';

export interface ParleyClientOptions {
  /** Base URL, e.g. https://chat.example.com:8443 */
  baseUrl: string;
  /** Injected fetch (Node's global fetch, a browser's, or one with a custom TLS agent). */
  fetch?: typeof fetch;
  accessToken?: string;
}

/** An error answered by the server in the uniform body, with its code and request id. */
export class ParleyApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | undefined,
  ) {
    super(message);
    this.name = 'ParleyApiError';
  }
}

/** Typed REST access to Parley. Realtime and calls arrive in later modules. */
export class ParleyClient {
  readonly #baseUrl: string;
  readonly #fetch: typeof fetch;
  #accessToken: string | undefined;

  constructor(options: ParleyClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#accessToken = options.accessToken;
  }

  setAccessToken(token: string | undefined): void {
    this.#accessToken = token;
  }

  version(): Promise<VersionBody> {
    return this.request<VersionBody>('GET', '/version');
  }

  readiness(): Promise<HealthBody> {
    return this.request<HealthBody>('GET', '/readyz');
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.#accessToken) headers.authorization = `Bearer ${this.#accessToken}`;
    const response = await this.#fetch(`${this.#baseUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const error = (parsed as Partial<ErrorBody> | undefined)?.error;
      throw new ParleyApiError(
        response.status,
        error?.code ?? 'unknown_error',
        error?.message ?? response.statusText,
        error?.requestId,
      );
    }
    return parsed as T;
  }
}
