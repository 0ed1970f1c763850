import type { ErrorBody, HealthBody, VersionBody } from '@parley/protocol';
import { AccountClient } from './account-client.ts';
import { AuthClient } from './auth-client.ts';
import { MemoryTokenStore } from './memory-token-store.ts';
import type { TokenStore } from './token-store.ts';

export interface ParleyClientOptions {
  /** Base URL, e.g. https://chat.example.com:8443 */
  baseUrl: string;
  /** Injected fetch (Node's global fetch, a browser's, or one with a custom TLS agent). */
  fetch?: typeof fetch;
  /** Where tokens live; a {@link MemoryTokenStore} when absent. See {@link TokenStore} for the trade-offs. */
  tokenStore?: TokenStore;
  /** A fixed access token (e.g. from client_credentials), saved to the store; it cannot be refreshed. */
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

interface Answer {
  status: number;
  statusText: string;
  body: unknown;
}

/**
 * Typed REST access to Parley. Requests carry the stored access token as `Authorization: Bearer`; when the
 * server answers 401 `invalid_token` (expired or replaced), the client refreshes once — shared with every
 * concurrent request — and retries the request once. Realtime and calls arrive in later modules.
 */
export class ParleyClient {
  /** Sign-in, MFA, refresh and sign-out. */
  readonly auth: AuthClient;
  /** The signed-in user's profile, sessions, password and MFA. */
  readonly account: AccountClient;
  readonly #baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #tokens: TokenStore;

  constructor(options: ParleyClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#tokens = options.tokenStore ?? new MemoryTokenStore();
    if (options.accessToken !== undefined) this.#tokens.save({ accessToken: options.accessToken });
    this.auth = new AuthClient({ baseUrl: this.#baseUrl, fetch: this.#fetch, tokens: this.#tokens });
    this.account = new AccountClient(this, this.#tokens);
  }

  /** Replaces the stored tokens with a bare access token (no refresh), or clears them. */
  setAccessToken(token: string | undefined): void {
    if (token === undefined) this.#tokens.clear();
    else this.#tokens.save({ accessToken: token });
  }

  version(): Promise<VersionBody> {
    return this.request<VersionBody>('GET', '/version');
  }

  readiness(): Promise<HealthBody> {
    return this.request<HealthBody>('GET', '/readyz');
  }

  /**
   * One JSON request to `path` (which must start with a single `/`: the token goes to `baseUrl` only).
   * Throws {@link ParleyApiError} for an error answer, and `ParleyAuthError` when a needed refresh was refused.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (!path.startsWith('/') || path.startsWith('//'))
      throw new TypeError(`A request path must start with one "/": ${path}`);
    const sent = this.#tokens.load();
    let answer = await this.#send(method, path, body, sent?.accessToken);
    // Retried once at most: a second invalid_token is the answer, not a reason to refresh again.
    if (sent?.refreshToken !== undefined && isInvalidToken(answer)) {
      const renewed = await this.auth.renewAfterRejection(sent.accessToken);
      answer = await this.#send(method, path, body, renewed.accessToken);
    }
    if (answer.status >= 400) throw apiError(answer);
    return answer.body as T;
  }

  async #send(method: string, path: string, body: unknown, accessToken: string | undefined): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`;
    const response = await this.#fetch(`${this.#baseUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      statusText: response.statusText,
      body: parseBody(response.status, text),
    };
  }
}

/** The JSON body; an error page that is not JSON (a proxy's 502) still becomes a {@link ParleyApiError}. */
function parseBody(status: number, text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    if (status < 400) throw error;
    return undefined;
  }
}

const errorOf = (answer: Answer) => (answer.body as Partial<ErrorBody> | undefined)?.error;

function isInvalidToken(answer: Answer): boolean {
  return answer.status === 401 && errorOf(answer)?.code === 'invalid_token';
}

function apiError(answer: Answer): ParleyApiError {
  const error = errorOf(answer);
  return new ParleyApiError(
    answer.status,
    error?.code ?? 'unknown_error',
    error?.message ?? answer.statusText,
    error?.requestId,
  );
}
