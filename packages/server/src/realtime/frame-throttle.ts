/**
 * A socket's frame rate limit: a token bucket (`framesPerSecond` sustained, twice that as a burst), and the
 * count of violations (frames refused by the bucket, malformed or invalid) after which the socket closes.
 */
export class FrameThrottle {
  #allowance: number;
  #lastRefill = Date.now();
  #violations = 0;

  constructor(
    private readonly framesPerSecond: number,
    private readonly maxViolations: number,
  ) {
    this.#allowance = framesPerSecond * 2;
  }

  /** Takes a token for one frame; false when the bucket is empty (the frame is refused). */
  take(): boolean {
    const now = Date.now();
    this.#allowance = Math.min(
      this.framesPerSecond * 2,
      this.#allowance + ((now - this.#lastRefill) / 1000) * this.framesPerSecond,
    );
    this.#lastRefill = now;
    if (this.#allowance < 1) return false;
    this.#allowance -= 1;
    return true;
  }

  /** Counts one violation; true once there have been `maxViolations`: the socket must close. */
  violated(): boolean {
    this.#violations += 1;
    return this.#violations >= this.maxViolations;
  }
}
