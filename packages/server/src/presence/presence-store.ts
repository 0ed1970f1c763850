/**
 * Which users have a live realtime connection, across every node. Each connection is registered with an
 * expiry it keeps renewing, so a node that dies without saying goodbye stops counting after one expiry.
 */
export interface PresenceStore {
  /** Registers (or renews) a connection; true when the user was offline before. */
  connect(tenantId: string, userId: string, connectionId: string, ttlMs: number): Promise<boolean>;
  /** Removes a connection; true when the user has no live connection left. */
  disconnect(tenantId: string, userId: string, connectionId: string): Promise<boolean>;
  isOnline(tenantId: string, userId: string): Promise<boolean>;
  /** The user's live connection ids (a connection of a node that died drops out after its expiry). */
  liveConnections(tenantId: string, userId: string): Promise<Set<string>>;
}
