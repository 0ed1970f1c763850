/**
 * The tokens of one signed-in session, as the SDK keeps them between requests.
 *
 * Invariant: `refreshToken` is the newest one the server issued. Refresh tokens rotate on every use, and the
 * server treats a second use of an old one as theft (the whole session ends), so a store must never hand out
 * an older refresh token after a newer one was saved.
 */
export interface Tokens {
  /** Sent as `Authorization: Bearer …`, never in a URL. */
  readonly accessToken: string;
  /** Absent for tokens that cannot be refreshed (client_credentials, or a token set by hand). */
  readonly refreshToken?: string | undefined;
  /** When the access token expires, in ms since the epoch by this device's clock; informational. */
  readonly expiresAt?: number | undefined;
  /** The granted scopes, space-separated as RFC 6749 §3.3 has them. */
  readonly scope?: string | undefined;
}

/**
 * Where the SDK keeps its tokens: the only place they live on the client. Synchronous, so that every request
 * reads the newest token without a round trip through an event loop turn.
 *
 * The default, {@link MemoryTokenStore}, forgets the tokens when the page or process ends. A browser app that
 * wants sessions to survive a reload can implement this port over `sessionStorage` or `localStorage`; the
 * trade-off is that any script running on the page — including one injected through an XSS hole or a
 * compromised dependency — can then read the refresh token and keep the session alive from elsewhere until
 * it is revoked. Prefer memory (or `sessionStorage`, which at least ends with the tab) for sensitive tenants,
 * keep a strict Content-Security-Policy, and let users end stolen sessions via `account.signOutSession`.
 *
 * A store shared between several clients (e.g. `localStorage` across tabs) lets them race to refresh with
 * the same refresh token; the loser looks like a replay and the server ends the session. Share one client
 * per store, or coordinate refreshes (e.g. with the Web Locks API).
 */
export interface TokenStore {
  /** The current tokens, or undefined when signed out. */
  load(): Tokens | undefined;
  /** Replaces the stored tokens (after a sign-in or a refresh). */
  save(tokens: Tokens): void;
  /** Forgets the tokens (after a sign-out, or when the server refused the refresh token). */
  clear(): void;
}
