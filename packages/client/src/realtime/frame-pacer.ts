/**
 * A token bucket for outgoing frames, so the client stays under the server's per-socket frame rate
 * (`PARLEY_REALTIME_FRAMES_PER_SECOND`, whose burst is twice the rate): a frame the server throttles is
 * refused with an `error` that names no request, which the client could only repair by guessing.
 */
export class FramePacer {
  readonly #perSecond: number;
  readonly #queue: (() => void)[] = [];
  #tokens: number;
  #refilledAt = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(perSecond: number) {
    this.#perSecond = perSecond;
    this.#tokens = perSecond;
  }

  /** Runs `write` now if the budget allows, otherwise as soon as it does; writes keep their order. */
  push(write: () => void): void {
    this.#queue.push(write);
    this.#drain();
  }

  /** Drops every write not yet made (the socket they were for has gone). */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }

  #drain(): void {
    const now = Date.now();
    this.#tokens = Math.min(
      this.#perSecond,
      this.#tokens + ((now - this.#refilledAt) / 1000) * this.#perSecond,
    );
    this.#refilledAt = now;
    while (this.#queue.length > 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      this.#queue.shift()?.();
    }
    if (this.#queue.length === 0 || this.#timer !== undefined) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#drain();
      },
      Math.ceil(((1 - this.#tokens) * 1000) / this.#perSecond),
    );
  }
}
