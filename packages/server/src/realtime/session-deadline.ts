import type { Logger } from '../observability/logger.ts';

/** setTimeout's largest delay; a later deadline is approached in steps. */
const MAX_TIMER_MS = 2_147_483_647;

/** The times of a session check that its deadline is computed from (a session grant has them). */
export interface SessionTimes {
  /** When the access token expires (ms since the epoch). */
  accessExpiresAt: number;
  idleTimeoutMs: number;
  /** The session idles out at `lastUsedAt + idleTimeoutMs`. */
  lastUsedAt: number;
  /** The session service's clock at the check: the delay is measured against it, not this node's clock. */
  checkedAt: number;
}

export interface SessionDeadlineDeps {
  /** Checks the session again without counting a use: its times, or why it is no longer valid. */
  check: () => Promise<SessionTimes | string>;
  /** Ends the socket's session (closes it with 4001). */
  end: (reason: string) => void;
  logger: Logger;
}

/**
 * One socket's timer for the earlier of its token's expiry and its session's idle deadline, so an expired
 * or idle session closes its socket even while the client sends nothing.
 *
 * Invariant: once `stop`ped (the session ended, or the socket closed), it is never armed again, so no timer
 * outlives its socket (a timer armed after the close handler would be re-armed for as long as the session
 * lives).
 */
export class SessionDeadline {
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(private readonly deps: SessionDeadlineDeps) {}

  /** Times the next check at the deadline of `times`, replacing any timer armed before. */
  arm(times: SessionTimes): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    const at = Math.min(times.accessExpiresAt, times.lastUsedAt + times.idleTimeoutMs);
    this.#timer = setTimeout(
      () => {
        void this.#due().catch((error: unknown) => {
          this.deps.logger.warn({ err: error }, 'session check failed');
        });
      },
      Math.min(Math.max(at - times.checkedAt, 0), MAX_TIMER_MS),
    );
    this.#timer.unref();
  }

  /** Clears the timer for good. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /**
   * At a deadline: not a use of the session. An idle session is ended here as the next request would end
   * it (which closes its sockets on every node); a session used meanwhile, elsewhere too, gets a new timer.
   */
  async #due(): Promise<void> {
    if (this.#stopped) return;
    const times = await this.deps.check();
    if (typeof times === 'string') this.deps.end(times === 'expired' ? 'token expired' : 'session ended');
    else this.arm(times);
  }
}
