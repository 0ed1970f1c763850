import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';

/** Text that costs one token: a send or an edit costs one, plus one per this many bytes of body. */
const BYTES_PER_TOKEN = 4096;
/** Buckets idle this long are full again and forgotten. */
const IDLE_MS = 5 * 60_000;

/**
 * Per-user token buckets for sends and edits, on this node. Each message costs by its size because the work
 * it causes (sealing, search tokens: a word and its beginnings, term rows) grows with its text: without a
 * bound, one user's burst of large messages could keep a node busy for seconds. In memory, without a round
 * trip on the hot path; across N nodes a user gets at most N times the rate, still bounded.
 */
export class SendRateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  #lastSweep = 0;

  constructor(
    private readonly clock: Clock,
    private readonly limits: { perSecond: number; burst: number },
  ) {}

  /** Takes the tokens for a message with a body of `bodyBytes`, or throws `rate_limited`. */
  take(tenantId: string, userId: string, bodyBytes: number): void {
    const now = this.clock.now();
    this.#sweep(now);
    const key = `${tenantId}:${userId}`;
    const { perSecond, burst } = this.limits;
    const bucket = this.#buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    const cost = 1 + Math.floor(bodyBytes / BYTES_PER_TOKEN);
    if (bucket.tokens < cost) {
      const waitSeconds = Math.ceil((cost - bucket.tokens) / perSecond);
      throw new AppError('rate_limited', `Too many or too large messages; retry in ${waitSeconds} s.`, {
        'retry-after': String(waitSeconds),
      });
    }
    bucket.tokens -= cost;
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < IDLE_MS) return;
    this.#lastSweep = now;
    for (const [key, bucket] of this.#buckets) if (now - bucket.at > IDLE_MS) this.#buckets.delete(key);
  }
}
