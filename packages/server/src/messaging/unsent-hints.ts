import type { UserHint } from './message-fanout.ts';

type SeqHint = Extract<UserHint, { kind: 'seq' }>;

/** At most this many (channel, dialog) pairs wait; past it a failed hint is dropped (see below). */
const LIMIT = 10_000;

/**
 * Sequence hints this node could not publish (its Redis connection is down), merged per channel and dialog
 * and published again every `retryMs` until they go through. Without this, a node whose publishing connection
 * came back after the other nodes had resubscribed (and caught up from the database) would leave its commits
 * of that gap unannounced: their receivers would see them only with the dialog's next change. A dropped hint
 * (past the limit) is still caught up by a resume, or by the receivers' own catch-up if they lost Redis too.
 */
export class UnsentHints {
  readonly #waiting = new Map<string, { channel: string; hint: SeqHint }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly publish: (channel: string, message: string) => Promise<number>,
    private readonly retryMs: number,
  ) {}

  get size(): number {
    return this.#waiting.size;
  }

  add(channel: string, hint: SeqHint): void {
    const key = `${channel}\n${hint.dialogId}`;
    const earlier = this.#waiting.get(key)?.hint;
    if (!earlier && this.#waiting.size >= LIMIT) return;
    const merged: SeqHint = earlier
      ? {
          kind: 'seq',
          dialogId: hint.dialogId,
          seq: Math.max(earlier.seq, hint.seq),
          from: Math.min(earlier.from ?? earlier.seq, hint.from ?? hint.seq),
        }
      : hint;
    this.#waiting.set(key, { channel, hint: merged });
    this.#arm();
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#waiting.size === 0) return;
    this.#timer = setTimeout(() => {
      void this.#flush();
    }, this.retryMs);
    this.#timer.unref();
  }

  async #flush(): Promise<void> {
    await Promise.all(
      [...this.#waiting].map(async ([key, { channel, hint }]) => {
        try {
          await this.publish(channel, JSON.stringify(hint));
        } catch {
          return; // still away: next time
        }
        // A hint added meanwhile (merged into a new object) stays for the next round.
        if (this.#waiting.get(key)?.hint === hint) this.#waiting.delete(key);
      }),
    );
    this.#timer = undefined;
    this.#arm();
  }
}
