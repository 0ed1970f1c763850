export interface BackoffOptions {
  /** The first retry waits about this long. Default 500 ms. */
  initialDelayMs: number;
  /** No retry waits longer than this. Default 30 s. */
  maxDelayMs: number;
}

export const defaultBackoff: BackoffOptions = { initialDelayMs: 500, maxDelayMs: 30_000 };

/**
 * Exponential back-off with "equal jitter": the n-th retry waits between half and all of
 * `initial · 2ⁿ` (capped), so a server restart is not met by every client at the same instant.
 */
export class ReconnectBackoff {
  #attempt = 0;

  constructor(
    private readonly options: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt, never less than `floorMs`; each call doubles the next one. */
  next(floorMs = 0): number {
    const ceiling = Math.min(this.options.maxDelayMs, this.options.initialDelayMs * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    return Math.max(floorMs, Math.round(ceiling / 2 + (this.random() * ceiling) / 2));
  }

  /** After a connection reached `ready`: the next failure starts from the initial delay again. */
  reset(): void {
    this.#attempt = 0;
  }
}
