import type { CallServerFrame } from '@parley/protocol';
import type { Bus } from '../bus/bus.ts';
import { UnsentHints } from './unsent-hints.ts';

/**
 * What travels over the bus to the nodes holding a user's sockets. Only ids and small state, never message
 * content: receivers read content from the database, where it is encrypted, and the bus may lose a hint
 * without losing anything (resume reads the database too).
 */
export type UserHint =
  /**
   * The dialog has changes up to `seq` (messages or sequenced events), from `from` on when several are
   * announced at once (a commit batch); `from` absent = just the one at `seq`.
   */
  | { kind: 'seq'; dialogId: string; seq: number; from?: number }
  | { kind: 'receipt'; dialogId: string; userId: string; deliveredSeq: number; readSeq: number }
  | { kind: 'typing'; dialogId: string; userId: string; state: 'started' | 'stopped' }
  /** A call frame for all of a user's devices, or for one (`deviceId`); SDP and ICE only pass through. */
  | { kind: 'call'; frame: CallServerFrame; deviceId?: string };

/** A change of a user's presence, published on the user's own presence channel. */
export interface PresenceHint {
  userId: string;
  status: 'online' | 'offline';
  lastActiveAt: number | null;
}

const userChannel = (tenantId: string, userId: string) => `user:${tenantId}:${userId}`;
const presenceChannel = (tenantId: string, userId: string) => `presence:${tenantId}:${userId}`;

/** Fan-out of committed changes and ephemeral signals to every node that has a connection of a member. */
export function createMessageFanout(bus: Bus, options: { retryUnsentMs?: number } = {}) {
  // Receipts, typing and call signals are of the moment; a change's hint must arrive, late if need be.
  const unsent = new UnsentHints(
    (channel, message) => bus.publish(channel, message),
    options.retryUnsentMs ?? 1000,
  );
  return {
    async published(tenantId: string, userIds: readonly string[], hint: UserHint): Promise<void> {
      const message = JSON.stringify(hint);
      await Promise.all(
        userIds.map((userId) => {
          const channel = userChannel(tenantId, userId);
          return bus.publish(channel, message).catch(() => {
            if (hint.kind === 'seq') unsent.add(channel, hint);
            return 0;
          });
        }),
      );
    },

    /**
     * Called each time this node's bus is reliable again after it was not (its Redis subscription dropped and
     * is back): hints published meanwhile never arrived, so whoever delivers on hints must catch up from the
     * database instead of waiting for the next one, which may never come.
     */
    onHintsMissed(listener: () => void): void {
      bus.onReliabilityChange((reliable) => {
        if (reliable) listener();
      });
    },

    subscribe(tenantId: string, userId: string, onHint: (hint: UserHint) => void) {
      return bus.subscribe(userChannel(tenantId, userId), (message) => {
        onHint(JSON.parse(message) as UserHint);
      });
    },

    async presenceChanged(tenantId: string, hint: PresenceHint): Promise<void> {
      await bus.publish(presenceChannel(tenantId, hint.userId), JSON.stringify(hint)).catch(() => 0);
    },

    subscribePresence(tenantId: string, userId: string, onHint: (hint: PresenceHint) => void) {
      return bus.subscribe(presenceChannel(tenantId, userId), (message) => {
        onHint(JSON.parse(message) as PresenceHint);
      });
    },
  };
}

export type MessageFanout = ReturnType<typeof createMessageFanout>;
