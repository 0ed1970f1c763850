/**
 * Fan-out between the nodes of a deployment: revocations, and later realtime events and presence. The
 * in-process adapter serves one node; the Redis adapter serves many. Messages are hints to act on, never
 * the record: the database is. A node that may have missed messages must say so (`reliable`), so callers
 * can fall back to the database instead of trusting a cache.
 */
export interface Bus {
  /**
   * Resolves with how many subscriptions (this node's included) the message was handed to. Messages
   * published by one node, in one order (even without awaiting each), reach every subscriber in that order:
   * the in-process adapter delivers synchronously, the Redis adapter sends them on one connection. Callers
   * rely on this to publish a change's frames at once (calls).
   */
  publish(channel: string, message: string): Promise<number>;
  /** Returns an unsubscribe function. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  /** False while this node may be missing messages (e.g. its Redis subscription is down). */
  readonly reliable: boolean;
  /** Called whenever `reliable` changes, so caches can flush after a gap. */
  onReliabilityChange(listener: (reliable: boolean) => void): void;
  close(): Promise<void>;
}
