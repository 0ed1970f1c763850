import type { Bus } from './bus.ts';

/** The embedded default: one process, so delivery is a function call and never misses. */
export class LocalBus implements Bus {
  readonly #handlers = new Map<string, Set<(message: string) => void>>();
  readonly reliable = true;

  publish(channel: string, message: string): Promise<void> {
    for (const handler of this.#handlers.get(channel) ?? []) handler(message);
    return Promise.resolve();
  }

  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    const handlers = this.#handlers.get(channel) ?? new Set();
    handlers.add(handler);
    this.#handlers.set(channel, handlers);
    return Promise.resolve(() => {
      handlers.delete(handler);
      return Promise.resolve();
    });
  }

  onReliabilityChange(): void {
    // Never changes.
  }

  close(): Promise<void> {
    this.#handlers.clear();
    return Promise.resolve();
  }
}
