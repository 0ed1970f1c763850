/** A request body sent as it is: bytes in memory, a file, or a stream read once. */
export type RawBody = Blob | Uint8Array | ReadableStream<Uint8Array>;

export interface RawRequestInit {
  /** Extra headers (`content-type`, `range`, …); `authorization` is the client's. */
  headers?: Record<string, string>;
  body?: RawBody;
  /** Aborts the request, and the reading of its answer's body. */
  signal?: AbortSignal;
}

/**
 * What clients of non-JSON routes need of the REST client: one authenticated request whose successful answer
 * is handed back unread (a 4xx/5xx still throws `ParleyApiError`).
 */
export interface RawRequester {
  requestRaw(method: string, path: string, init?: RawRequestInit): Promise<Response>;
}

/** Whether `body` is a stream: it can be sent only once, and fetch needs `duplex: 'half'` for it. */
export function isStreamBody(body: RawBody | undefined): body is ReadableStream<Uint8Array> {
  return typeof ReadableStream !== 'undefined' && body instanceof ReadableStream;
}
