import type { RealtimeError } from './realtime-error.ts';
import type { ServerFrameOf, ServerFrameType } from './realtime-frames.ts';

/**
 * `idle`: not connected yet; `connecting`: a socket is opening or authenticating; `ready`: authenticated;
 * `reconnecting`: waiting to try again; `closed`: by `close()`, or for good (see {@link ConnectionEvent.error}).
 */
export type ConnectionState = 'idle' | 'connecting' | 'ready' | 'reconnecting' | 'closed';

export interface ConnectionEvent {
  state: ConnectionState;
  /** The close code of the socket that just ended (1006 when the connection died). */
  closeCode?: number;
  reason?: string;
  /** In state `reconnecting`: how long until the next attempt. */
  retryInMs?: number;
  /** In state `closed`: why the client stopped on its own (`unauthorized`, `forbidden`). */
  error?: RealtimeError;
}

/** SDK events that are not server frames. */
interface LifecycleEvents {
  connection: ConnectionEvent;
}

/**
 * Listener types: every server frame by its `type`, derived from the protocol, plus `connection`. Were the
 * protocol ever to name a server frame like a lifecycle event, this type would collapse to `never` and every
 * `on(…)` call would stop compiling.
 */
export type RealtimeEvents = { [K in ServerFrameType]: ServerFrameOf<K> } & ([
  Extract<keyof LifecycleEvents, ServerFrameType>,
] extends [never]
  ? LifecycleEvents
  : never);
