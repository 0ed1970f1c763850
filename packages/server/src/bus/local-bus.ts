import type { Bus } from './bus.ts';

/** The embedded default: one process, so delivery is a function call and never misses. */
export class LocalBus implements Bus {
  readonly #handlers = new Map<string, Set<(message: string) => void>>();
  readonly reliable = true;

  publish(channel: string, message: string): Promise<number> {
    const handlers = [...(this.#handlers.get(channel) ?? [])];
    for (const handler of handlers) handler(message);
    return Promise.resolve(handlers.length);
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
