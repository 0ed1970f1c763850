import { Redis } from 'ioredis';
import type { Bus } from './bus.ts';

/**
 * Redis pub/sub across nodes. Pub/sub is fire-and-forget: while the subscriber connection is down, this
 * node misses messages, so it reports itself unreliable until it has resubscribed.
 */
export class RedisBus implements Bus {
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #handlers = new Map<string, Set<(message: string) => void>>();
  readonly #listeners: ((reliable: boolean) => void)[] = [];
  #reliable = false;

  constructor(
    url: string,
    private readonly prefix: string,
  ) {
    const options = {
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
    };
    // Auto-pipelining: the publishes of one turn (one per member and change) leave in one write.
    this.#publisher = new Redis(url, { ...options, enableOfflineQueue: false, enableAutoPipelining: true });
    // Subscriptions wait for Redis however long it is down (the node is `reliable: false` meanwhile) rather
    // than failing: a node must be able to start while Redis is away and catch up when it returns.
    this.#subscriber = new Redis(url, { ...options, maxRetriesPerRequest: null });
    this.#publisher.on('error', () => undefined);
    this.#subscriber.on('error', () => undefined);
    this.#subscriber.on('message', (channel: string, message: string) => {
      for (const handler of this.#handlers.get(channel) ?? []) handler(message);
    });
    // ioredis resubscribes on reconnect by itself; 'ready' follows that, so only then are we reliable.
    this.#subscriber.on('ready', () => {
      this.#setReliable(true);
    });
    this.#subscriber.on('close', () => {
      this.#setReliable(false);
    });
  }

  get reliable(): boolean {
    return this.#reliable;
  }

  #setReliable(reliable: boolean): void {
    if (reliable === this.#reliable) return;
    this.#reliable = reliable;
    for (const listener of this.#listeners) listener(reliable);
  }

  onReliabilityChange(listener: (reliable: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /** Redis counts subscribed connections: one per node that listens on the channel. */
  async publish(channel: string, message: string): Promise<number> {
    return this.#publisher.publish(this.prefix + channel, message);
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    const key = this.prefix + channel;
    const handlers = this.#handlers.get(key) ?? new Set();
    const first = handlers.size === 0;
    handlers.add(handler);
    this.#handlers.set(key, handlers);
    if (first) await this.#subscriber.subscribe(key);
    return async () => {
      handlers.delete(handler);
      if (handlers.size === 0) {
        this.#handlers.delete(key);
        await this.#subscriber.unsubscribe(key);
      }
    };
  }

  async close(): Promise<void> {
    // QUIT is polite only to a Redis that answers; while it is away, QUIT would wait forever.
    for (const client of [this.#publisher, this.#subscriber]) {
      if (client.status === 'ready') await client.quit().catch(() => undefined);
      else client.disconnect();
    }
  }
}
