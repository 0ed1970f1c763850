/**
 * Fixed-window counters for throttling (failed sign-ins per IP, call attempts …). In memory on one node;
 * in Redis across nodes, so an attacker cannot spread attempts over the cluster.
 */
export interface Counter {
  /** Adds one to `key` in the current window and returns the new count. */
  increment(key: string, windowMs: number): Promise<number>;
  /**
   * Takes one back from `key` in the current window (a reservation that turned out not to count) and returns
   * the new count. Never goes below 0 and never moves the window's end.
   */
  decrement(key: string, windowMs: number): Promise<number>;
  /** The count in the current window, without adding. */
  peek(key: string, windowMs: number): Promise<number>;
  reset(key: string): Promise<void>;
}
