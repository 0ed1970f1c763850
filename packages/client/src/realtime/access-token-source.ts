/** Where the realtime client gets its access token. The SDK's adapter is built by `ParleyClient`. */
export interface AccessTokenSource {
  /** The access token to authenticate with; undefined when signed out. */
  current(): string | undefined;
  /**
   * A token to use instead of `rejected`, which the server refused (4001). Answers undefined when the
   * session is over (sign in again); throws when renewing failed for now (network, server) and may work later.
   */
  renew(rejected: string): Promise<string | undefined>;
}
