import type { MailKind } from './mailer.ts';

/**
 * Runs mail work off the request path and keeps track of it. Requests answer without waiting for a relay
 * (so a slow relay cannot slow sign-in, and the time a password-reset request takes does not tell whether
 * the address exists); `drain` lets shutdown and tests wait for everything started so far.
 *
 * A failure is reported to `onFailure` with the message kind only: errors from a relay can quote the
 * recipient, so they must not reach the logs whole.
 */
export class MailDispatch {
  readonly #pending = new Set<Promise<void>>();

  constructor(private readonly onFailure: (kind: MailKind, error: unknown) => void) {}

  /** Starts `work` (look up the recipient, then send) now; never rejects, never blocks the caller. */
  run(kind: MailKind, work: () => Promise<void>): void {
    const task = work().catch((error: unknown) => {
      try {
        this.onFailure(kind, error);
      } catch {
        // Reporting must not turn a lost mail into an unhandled rejection.
      }
    });
    this.#pending.add(task);
    void task.finally(() => this.#pending.delete(task));
  }

  /** Resolves when every started delivery has finished (including ones started while waiting). */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }
}
