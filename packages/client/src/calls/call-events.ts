import type { CallOutcome } from '@parley/protocol';
import type { ServerFrameOf } from '../realtime/realtime-frames.ts';
import type { Call } from './call.ts';

/** One remote device of a call, with its peer connection (one per remote device: a full mesh). */
export interface RemoteDevice {
  userId: string;
  deviceId: string;
}

/**
 * Why a call ended for this device: the server's outcome, or `answered_elsewhere` (another device of the same
 * user took it), or `disconnected` (the realtime connection ended: the server leaves the call for us).
 */
export type CallEndReason = CallOutcome | 'answered_elsewhere' | 'disconnected';

/** Events of one call (see {@link Call.on}). */
export interface CallEvents {
  /** Every `call.state` the server sends: ringing or active, and each participant's state. */
  state: ServerFrameOf<'call.state'>;
  /** A remote device joined (its peer connection follows). */
  'participant.joined': RemoteDevice;
  /** A remote device left (hung up, or its connection ended); its peer connection is closed. */
  'participant.left': RemoteDevice;
  /** A remote track arrived on a peer connection (attach `streams[0]` to a media element). */
  track: RemoteDevice & { track: MediaStreamTrack; streams: readonly MediaStream[] };
  /** A peer connection's `connectionState` changed (`connected`, `failed`: try {@link Call.restartIce}). */
  'peer.state': RemoteDevice & { state: RTCPeerConnectionState };
  /** A negotiation step failed on a peer connection (the link stays: a later offer or an ICE restart may recover). */
  'peer.error': RemoteDevice & { error: unknown };
  /** The call ended for this device: every peer connection is closed. Emitted once. */
  ended: { outcome: CallEndReason };
}

/** Events of the calls module (see {@link CallsClient.on}). */
export interface CallsEvents {
  /** A call rings on this device: `accept()` or `reject()` it (or let it ring out). */
  incoming: Call;
}
