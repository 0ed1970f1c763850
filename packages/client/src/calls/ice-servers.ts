import type { IceServersResponse } from '@parley/protocol';

/**
 * The ICE servers of `GET /v1/calls/ice-servers`, fetched when first needed and again once the TURN
 * credentials come within `refreshMarginMs` of `expiresAt` (a TURN server refuses new allocations — and so
 * ICE restarts — with expired credentials; allocations made in time live on).
 */
export class IceServerCache {
  readonly #fetch: () => Promise<IceServersResponse>;
  readonly #refreshMarginMs: number;
  readonly #now: () => number;
  #current: { servers: RTCIceServer[]; refreshAtMs: number | undefined } | undefined;
  #inFlight: Promise<RTCIceServer[]> | undefined;

  constructor(fetch: () => Promise<IceServersResponse>, refreshMarginMs: number, now: () => number) {
    this.#fetch = fetch;
    this.#refreshMarginMs = refreshMarginMs;
    this.#now = now;
  }

  /** When the cached credentials should be fetched again (ms since the epoch); undefined without TURN. */
  get refreshAtMs(): number | undefined {
    return this.#current?.refreshAtMs;
  }

  /** The servers to configure now: cached while fresh, else fetched (one fetch shared by concurrent callers). */
  async get(): Promise<RTCIceServer[]> {
    const refreshAt = this.refreshAtMs;
    if (this.#current && (refreshAt === undefined || this.#now() < refreshAt)) return this.#current.servers;
    this.#inFlight ??= this.#load().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #load(): Promise<RTCIceServer[]> {
    const answer = await this.#fetch();
    const servers = answer.iceServers.map((entry) => ({
      urls: entry.urls,
      ...(entry.username === undefined ? {} : { username: entry.username }),
      ...(entry.credential === undefined ? {} : { credential: entry.credential }),
    }));
    // Short lifetimes: refresh at half of it rather than never having fresh credentials.
    const margin = Math.min(this.#refreshMarginMs, answer.ttlSeconds * 500);
    this.#current = {
      servers,
      refreshAtMs: answer.expiresAt === null ? undefined : Date.parse(answer.expiresAt) - margin,
    };
    return servers;
  }
}
