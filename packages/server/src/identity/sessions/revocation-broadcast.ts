import { randomUUID } from 'node:crypto';
import type { Bus } from '../../bus/bus.ts';

const REVOKE_CHANNEL = 'auth.revoked';
const ACK_CHANNEL = 'auth.revoked.ack';
const CONFIRM_TIMEOUT_MS = 2000;

/**
 * What a session's sockets do about an eviction: `ended` close with 4001 at once (revoked, signed out,
 * deactivated, password or MFA reset, idle); `changed` re-check the principal before their next delivery
 * (roles or a custom role's permissions changed); `replaced` nothing (a refresh rotated the token and the
 * session goes on; a socket keeps the lifetime of the token it signed in with).
 */
export type EvictionEffect = 'ended' | 'changed' | 'replaced';

/** What every node must forget: some sessions, every session of a tenant, or (after a bus gap) all. */
export interface Eviction {
  sessionIds?: string[];
  tenantId?: string;
  /** Only from this node to itself: it may have missed evictions while its bus was unreliable. */
  everyone?: true;
  effect: EvictionEffect;
}

/** A message from a node that predates `effect` meant: sessions ended, a tenant's roles changed. */
function withEffect(eviction: Omit<Eviction, 'effect'> & { effect?: EvictionEffect }): Eviction {
  return { ...eviction, effect: eviction.effect ?? (eviction.sessionIds ? 'ended' : 'changed') };
}

/**
 * Revocations that are done when they return: the message goes to every node, each node evicts and
 * acknowledges, and `announce` resolves once as many acknowledgements arrived as nodes received it. So a
 * client whose revoke call returned can rely on the token failing everywhere, with no propagation window.
 * A node that misses the message is one whose bus is unreliable, and such nodes do not trust their cache.
 */
export class RevocationBroadcast {
  /** Per announcement: acknowledgements so far, and how many to expect once the publish has returned. */
  readonly #pending = new Map<string, { acks: number; expected?: number; done: () => void }>();

  #settle(id: string): void {
    const waiter = this.#pending.get(id);
    if (waiter?.expected !== undefined && waiter.acks >= waiter.expected) waiter.done();
  }

  private constructor(
    private readonly bus: Bus,
    private readonly onTimeout: (missing: number) => void,
  ) {}

  static async start(bus: Bus, evict: (eviction: Eviction) => void, onTimeout: (missing: number) => void) {
    const broadcast = new RevocationBroadcast(bus, onTimeout);
    await bus.subscribe(REVOKE_CHANNEL, (message) => {
      const { id, ...eviction } = JSON.parse(message) as Partial<Eviction> & { id: string };
      // Synchronous, before the acknowledgement: once every node acknowledged, the eviction is done there.
      evict(withEffect(eviction));
      bus.publish(ACK_CHANNEL, id).catch(() => undefined);
    });
    await bus.subscribe(ACK_CHANNEL, (id) => {
      const waiter = broadcast.#pending.get(id);
      if (!waiter) return;
      waiter.acks += 1;
      broadcast.#settle(id);
    });
    return broadcast;
  }

  async announce(eviction: Eviction): Promise<void> {
    const id = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const confirmed = new Promise<void>((resolve) => {
      this.#pending.set(id, { acks: 0, done: resolve });
      timer = setTimeout(() => {
        const waiter = this.#pending.get(id);
        if (waiter) this.onTimeout((waiter.expected ?? 0) - waiter.acks);
        resolve();
      }, CONFIRM_TIMEOUT_MS);
    });
    try {
      const receivers = await this.bus.publish(REVOKE_CHANNEL, JSON.stringify({ id, ...eviction }));
      const waiter = this.#pending.get(id);
      // Acknowledgements may already have arrived (the local bus answers synchronously).
      if (waiter) waiter.expected = receivers;
      this.#settle(id);
      await confirmed;
    } finally {
      clearTimeout(timer);
      this.#pending.delete(id);
    }
  }
}
