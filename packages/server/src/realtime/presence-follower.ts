import type { ServerFrame } from '@parley/protocol';
import type { PresenceHint } from '../messaging/message-fanout.ts';
import type { PresenceService } from '../presence/presence-service.ts';

/**
 * The presence a socket follows (`presence.subscribe`): the current state of every visible user at once,
 * then each change, re-checked against the user's privacy setting and blocks before it is sent.
 */
export class PresenceFollower {
  readonly #subscriptions = new Map<string, Promise<() => Promise<void>>>();
  /** Closed with its socket: a `follow` still running subscribes nothing more. */
  #closed = false;

  constructor(
    private readonly presence: PresenceService,
    private readonly tenantId: string,
    private readonly viewerId: string,
    private readonly send: (frame: ServerFrame) => void,
  ) {}

  async follow(userIds: readonly string[]): Promise<void> {
    const wanted = new Set(userIds);
    for (const [userId, subscription] of this.#subscriptions) {
      if (wanted.has(userId)) continue;
      this.#subscriptions.delete(userId);
      await (
        await subscription
      )();
    }
    // The socket closed while the previous subscriptions ended: new ones would never be ended.
    if (this.#closed) return;
    for (const userId of wanted) {
      if (!this.#subscriptions.has(userId))
        this.#subscriptions.set(
          userId,
          this.presence.subscribe(this.tenantId, userId, (hint) => {
            void this.#changed(hint);
          }),
        );
    }
    await Promise.all(this.#subscriptions.values());
    for (const view of await this.presence.view(this.tenantId, this.viewerId, [...wanted]))
      this.send({ type: 'presence', ...view });
  }

  async #changed(hint: PresenceHint): Promise<void> {
    if (!this.#subscriptions.has(hint.userId)) return;
    const allowed = await this.presence.maySee(this.tenantId, this.viewerId, hint.userId).catch(() => false);
    if (!allowed) return;
    this.send({
      type: 'presence',
      userId: hint.userId,
      status: hint.status,
      lastActiveAt: hint.lastActiveAt === null ? null : new Date(hint.lastActiveAt).toISOString(),
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const subscriptions = [...this.#subscriptions.values()];
    this.#subscriptions.clear();
    for (const subscription of subscriptions) await (await subscription)();
  }
}
