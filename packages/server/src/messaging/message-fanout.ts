import type { Bus } from '../bus/bus.ts';

/** A hint that a dialog has a new sequence number; receivers load the content from the database. */
export interface DialogHint {
  dialogId: string;
  seq: number;
}

const channel = (tenantId: string, userId: string) => `user:${tenantId}:${userId}`;

/**
 * Fan-out of committed changes to every node that has a connection of a member. Only ids travel over the
 * bus (Redis), never message content: the receiving node reads the message from the database, where it is
 * encrypted, and the bus may lose a hint without losing a message (resume reads the database too).
 */
export function createMessageFanout(bus: Bus) {
  return {
    async published(tenantId: string, memberIds: readonly string[], hint: DialogHint): Promise<void> {
      const message = JSON.stringify(hint);
      await Promise.all(
        memberIds.map((userId) => bus.publish(channel(tenantId, userId), message).catch(() => 0)),
      );
    },

    subscribe(
      tenantId: string,
      userId: string,
      onHint: (hint: DialogHint) => void,
    ): Promise<() => Promise<void>> {
      return bus.subscribe(channel(tenantId, userId), (message) => {
        onHint(JSON.parse(message) as DialogHint);
      });
    },
  };
}

export type MessageFanout = ReturnType<typeof createMessageFanout>;
