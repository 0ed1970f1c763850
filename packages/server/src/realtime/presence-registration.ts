import type { Logger } from '../observability/logger.ts';
import { PRESENCE_TTL_MS, type PresenceService } from '../presence/presence-service.ts';

/**
 * A signed-in socket's entry in presence: registered once, renewed every third of the TTL, and removed when
 * the socket closes.
 *
 * Invariant: a socket that closes while `register` runs is unregistered by `register` once the registration
 * is done, not by `release` (which would run first and leave the registration, and its renewal timer, behind).
 */
export class PresenceRegistration {
  #registered = false;
  #released = false;
  #renewal: NodeJS.Timeout | undefined;

  constructor(
    private readonly presence: PresenceService,
    private readonly tenantId: string,
    private readonly userId: string,
    /** The socket's device id: one user's sockets are separate connections in presence. */
    private readonly connectionId: string,
    private readonly logger: Logger,
  ) {}

  async register(): Promise<void> {
    await this.presence.connected(this.tenantId, this.userId, this.connectionId).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'presence update failed');
    });
    this.#registered = true;
    // Released while registering: the close handler left the registration to this task.
    if (this.#released) {
      this.#leave();
      return;
    }
    this.#renewal = setInterval(() => {
      void this.presence.renewed(this.tenantId, this.userId, this.connectionId).catch(() => undefined);
    }, PRESENCE_TTL_MS / 3);
    this.#renewal.unref();
  }

  /** The socket closed (called once, from its close handler). */
  release(): void {
    this.#released = true;
    clearInterval(this.#renewal);
    if (this.#registered) this.#leave();
  }

  #leave(): void {
    void this.presence.disconnected(this.tenantId, this.userId, this.connectionId).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'presence update failed');
    });
  }
}
