import type { ErrorBody, HealthBody, IceServersResponse, VersionBody } from '@parley/protocol';
import { AccountClient } from './account-client.ts';
import { AuthClient } from './auth-client.ts';
import { CallsClient, type CallsClientOptions } from './calls/calls-client.ts';
import { ParleyAuthError } from './auth-error.ts';
import { MemoryTokenStore } from './memory-token-store.ts';
import type { AccessTokenSource } from './realtime/access-token-source.ts';
import { RealtimeClient, type RealtimeClientOptions } from './realtime/realtime-client.ts';
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
  /**
   * Realtime options: `WebSocket` (required in Node, e.g. the `ws` package), positions, back-off, … The URL
   * defaults to `baseUrl` with `wss:` (or `ws:`) at `/v1/realtime`; tokens come from this client.
   */
  realtime?: Omit<RealtimeClientOptions, 'url' | 'tokens'> & { url?: string };
  /** Calls options: `iceTransportPolicy`, an injected `RTCPeerConnection` (the browser's when absent), … */
  calls?: CallsClientOptions;
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
 * concurrent request — and retries the request once. `realtime` is the WSS connection; `calls` runs WebRTC calls over it.
 */
export class ParleyClient {
  /** Sign-in, MFA, refresh and sign-out. */
  readonly auth: AuthClient;
  /** The signed-in user's profile, sessions, password and MFA. */
  readonly account: AccountClient;
  readonly #baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #tokens: TokenStore;
  readonly #realtimeOptions: ParleyClientOptions['realtime'];
  #realtime: RealtimeClient | undefined;
  readonly #callsOptions: CallsClientOptions | undefined;
  #calls: CallsClient | undefined;

  constructor(options: ParleyClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#tokens = options.tokenStore ?? new MemoryTokenStore();
    if (options.accessToken !== undefined) this.#tokens.save({ accessToken: options.accessToken });
    this.auth = new AuthClient({ baseUrl: this.#baseUrl, fetch: this.#fetch, tokens: this.#tokens });
    this.account = new AccountClient(this, this.#tokens);
    this.#realtimeOptions = options.realtime;
    this.#callsOptions = options.calls;
  }

  /** The realtime connection (created on first use; call `connect()` on it), sharing this client's tokens. */
  get realtime(): RealtimeClient {
    this.#realtime ??= new RealtimeClient({
      ...this.#realtimeOptions,
      url: this.#realtimeOptions?.url ?? `${this.#baseUrl.replace(/^http/, 'ws')}/v1/realtime`,
      tokens: this.#accessTokenSource(),
    });
    return this.#realtime;
  }

  /**
   * Audio and video calls (created on first use), signaled over {@link ParleyClient.realtime} — connect it
   * first — with ICE servers from `GET /v1/calls/ice-servers`. Needs a token with the `calls` scope.
   */
  get calls(): CallsClient {
    this.#calls ??= new CallsClient(
      {
        realtime: this.realtime,
        iceServers: () => this.request<IceServersResponse>('GET', '/v1/calls/ice-servers'),
      },
      this.#callsOptions,
    );
    return this.#calls;
  }

  /** Replaces the stored tokens with a bare access token (no refresh), or clears them. */
  setAccessToken(token: string | undefined): void {
    if (token === undefined) this.#tokens.clear();
    else this.#tokens.save({ accessToken: token });
  }

  /** Tokens for the realtime client: the stored one, renewed through the same single-flight refresh. */
  #accessTokenSource(): AccessTokenSource {
    return {
      current: () => this.#tokens.load()?.accessToken,
      renew: async (rejected) => {
        try {
          return (await this.auth.renewAfterRejection(rejected)).accessToken;
        } catch (error) {
          // Refused for good (the store is cleared): signed out. Anything else may work on a later try.
          if (error instanceof ParleyAuthError && [undefined, 400, 401].includes(error.status))
            return undefined;
          throw error;
        }
      },
    };
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
