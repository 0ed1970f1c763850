import type { DialogPosition } from '@parley/protocol';

/**
 * Where the realtime client keeps what it has seen of each dialog's stream: the last `{ seq, epoch }`
 * delivered to the app. Sent in `resume` after every reconnect, so the server replays what was missed.
 * Synchronous, like the token store: a persistent implementation keeps a copy in memory and writes through.
 *
 * Invariant: a position only moves forward within an epoch (the client never calls `set` with a lower `seq`
 * of the same epoch), so an app that persists positions must persist them after handling each frame.
 */
export interface PositionStore {
  get(dialogId: string): DialogPosition | undefined;
  set(dialogId: string, position: DialogPosition): void;
  /** Forgets a dialog (after a resync: the app reloads it over REST and tracks it again). */
  delete(dialogId: string): void;
  entries(): Iterable<[dialogId: string, position: DialogPosition]>;
}
