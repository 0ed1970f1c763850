import type { ErrorCode } from '@parley/protocol';

/**
 * Codes the SDK raises itself, without asking the server:
 * - `queue_full`: more unacknowledged requests than `maxQueued`;
 * - `frame_too_large`: the frame is larger than `maxFrameBytes` (the server would close the socket with 1009);
 * - `closed`: {@link RealtimeClient.close} was called (or the client stopped) before the server acknowledged;
 * - `unauthorized`: signed out, or the session ended and could not be refreshed (close code 4001);
 * - `forbidden`: the token lacks the `chat` scope (close code 4003);
 * - `disconnected`: a call request made while not connected, or whose connection ended before the answer
 *   (call requests belong to one connection — its device — and are never re-sent).
 */
export type RealtimeClientErrorCode =
  'queue_full' | 'frame_too_large' | 'closed' | 'unauthorized' | 'forbidden' | 'disconnected';

/**
 * A realtime request was refused: by the server in an `error` frame (`code` from the API error catalogue, or
 * a frame-level code such as `invalid_frame`), or by the SDK itself ({@link RealtimeClientErrorCode}).
 */
export class RealtimeError extends Error {
  constructor(
    readonly code: ErrorCode | RealtimeClientErrorCode | (string & Record<never, never>),
    message: string,
  ) {
    super(message);
    this.name = 'RealtimeError';
  }
}
