import type { Clock } from '../clock.ts';
import type { Counter } from './counter.ts';

const MAX_KEYS = 200_000;

export class MemoryCounter implements Counter {
  readonly #windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly clock: Clock) {}

  #current(key: string, windowMs: number): { count: number; resetAt: number } {
    const now = this.clock.now();
    let entry = this.#windows.get(key);
    if (!entry || entry.resetAt <= now) {
      if (this.#windows.size >= MAX_KEYS) this.#sweep(now);
      entry = { count: 0, resetAt: now + windowMs };
      this.#windows.set(key, entry);
    }
    return entry;
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#windows) if (entry.resetAt <= now) this.#windows.delete(key);
    // Still full of live windows: drop the oldest rather than grow without bound.
    while (this.#windows.size >= MAX_KEYS) {
      const oldest = this.#windows.keys().next();
      if (oldest.done === true) break;
      this.#windows.delete(oldest.value);
    }
  }

  increment(key: string, windowMs: number): Promise<number> {
    const entry = this.#current(key, windowMs);
    entry.count += 1;
    return Promise.resolve(entry.count);
  }

  decrement(key: string): Promise<number> {
    // A window that is over stays over: nothing to give back, and no new window is opened for it.
    const entry = this.#windows.get(key);
    if (!entry || entry.resetAt <= this.clock.now()) return Promise.resolve(0);
    entry.count = Math.max(0, entry.count - 1);
    return Promise.resolve(entry.count);
  }

  peek(key: string, windowMs: number): Promise<number> {
    return Promise.resolve(this.#current(key, windowMs).count);
  }

  reset(key: string): Promise<void> {
    this.#windows.delete(key);
    return Promise.resolve();
  }
}
