import type { ErrorBody, HealthBody, IceServersResponse, VersionBody } from '@parley/protocol';
import { AccountClient } from './account-client.ts';
import { AuthClient } from './auth-client.ts';
import { CallRecordsClient } from './calls/call-records-client.ts';
import { CallsClient, type CallsClientOptions } from './calls/calls-client.ts';
import { ConsentClient } from './consent-client.ts';
import { ParleyAuthError } from './auth-error.ts';
import { MemoryTokenStore } from './memory-token-store.ts';
import { AttachmentsClient } from './messaging/attachments-client.ts';
import { BlocksClient } from './messaging/blocks-client.ts';
import { DialogsClient } from './messaging/dialogs-client.ts';
import { MessagesClient } from './messaging/messages-client.ts';
import { PresenceClient } from './messaging/presence-client.ts';
import { SearchClient } from './messaging/search-client.ts';
import type { AccessTokenSource } from './realtime/access-token-source.ts';
import { RealtimeClient, type RealtimeClientOptions } from './realtime/realtime-client.ts';
import { isStreamBody, type RawRequestInit } from './rest/raw-request.ts';
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
  /** The caller's dialogs and their members. */
  readonly dialogs: DialogsClient;
  /** History, send, edit, delete, reactions and receipts of a dialog's messages. */
  readonly messages: MessagesClient;
  /** Message search: whole words, phrases and word beginnings (`caf*`). */
  readonly search: SearchClient;
  /** Upload, download (with byte ranges) and removal of files. */
  readonly attachments: AttachmentsClient;
  /** Users' presence and who may see the caller's. */
  readonly presence: PresenceClient;
  /** The caller's block list. */
  readonly blocks: BlocksClient;
  /** Records of past and running calls. */
  readonly callRecords: CallRecordsClient;
  /** Processing purposes, sign-up with their acceptance, and the signed-in user's consents. */
  readonly consents: ConsentClient;
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
    this.dialogs = new DialogsClient(this);
    this.messages = new MessagesClient(this);
    this.search = new SearchClient(this);
    this.attachments = new AttachmentsClient(this);
    this.presence = new PresenceClient(this);
    this.blocks = new BlocksClient(this);
    this.callRecords = new CallRecordsClient(this);
    this.consents = new ConsentClient(this);
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
        iceServers: () => this.iceServers(),
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

  /**
   * STUN/TURN servers with short-lived TURN credentials (scope `calls`), for an app running its own
   * `RTCPeerConnection`; {@link ParleyClient.calls} fetches and refreshes them itself.
   */
  iceServers(): Promise<IceServersResponse> {
    return this.request<IceServersResponse>('GET', '/v1/calls/ice-servers');
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
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const init = { headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) };
    const response = await this.#authorized(method, path, init, true);
    return parseBody(response.status, await response.text()) as T;
  }

  /**
   * One request whose body and answer are not JSON (attachment upload and download): the successful
   * response comes back unread. A stream body is sent once: when the access token turns out to be expired,
   * it is refreshed for the next request but this one fails with `invalid_token` (bytes and blobs are resent).
   */
  requestRaw(method: string, path: string, init: RawRequestInit = {}): Promise<Response> {
    const { body, signal } = init;
    const stream = isStreamBody(body);
    return this.#authorized(
      method,
      path,
      {
        headers: { accept: '*/*', ...init.headers },
        ...(body === undefined ? {} : { body: body as BodyInit }),
        ...(signal === undefined ? {} : { signal }),
        // Node's fetch refuses a stream body without it; browsers stream only over HTTP/2 (else use a Blob).
        ...(stream ? { duplex: 'half' } : {}),
      },
      !stream,
    );
  }

  /** Sends with the stored token; on 401 `invalid_token` refreshes once and, if `resendable`, retries once. */
  async #authorized(method: string, path: string, init: Init, resendable: boolean): Promise<Response> {
    if (!path.startsWith('/') || path.startsWith('//'))
      throw new TypeError(`A request path must start with one "/": ${path}`);
    if (hasDotSegment(path))
      throw new TypeError(`A request path must not have a "." or ".." segment: ${path}`);
    const sent = this.#tokens.load();
    let response = await this.#send(method, path, init, sent?.accessToken);
    if (response.status < 400) return response;
    let answer = await readAnswer(response);
    // Retried once at most: a second invalid_token is the answer, not a reason to refresh again.
    if (sent?.refreshToken !== undefined && isInvalidToken(answer)) {
      const renewed = await this.auth.renewAfterRejection(sent.accessToken);
      if (!resendable) throw apiError(answer);
      response = await this.#send(method, path, init, renewed.accessToken);
      if (response.status < 400) return response;
      answer = await readAnswer(response);
    }
    throw apiError(answer);
  }

  #send(method: string, path: string, init: Init, accessToken: string | undefined): Promise<Response> {
    const headers = { ...init.headers };
    if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`;
    return this.#fetch(`${this.#baseUrl}${path}`, { ...init, method, headers });
  }
}

/**
 * Whether the URL parser would resolve a segment of `path` away: `.` and `..`, also as `%2e` in any case, with
 * `\` read as `/` and tabs and line breaks dropped, as WHATWG URL parsing does for http(s). `path\`…\``
 * encodes `/` but not `.`, so an id of `..` in `/v1/dialogs/${id}/calls` would otherwise be `GET /v1/calls`.
 */
function hasDotSegment(path: string): boolean {
  const [route = ''] = path.replace(/[\t\n\r]/g, '').split(/[?#]/);
  return route.split(/[/\\]/).some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment));
}

/** Fetch options the client sends; `duplex` is not yet in the DOM typings. */
type Init = Omit<RequestInit, 'headers' | 'method'> & { headers: Record<string, string>; duplex?: 'half' };

async function readAnswer(response: Response): Promise<Answer> {
  const text = await response.text();
  return { status: response.status, statusText: response.statusText, body: parseBody(response.status, text) };
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
