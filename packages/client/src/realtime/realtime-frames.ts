import type { ClientFrame, ServerFrame } from '@parley/protocol';

/** Every `type` a server frame can have. */
export type ServerFrameType = ServerFrame['type'];

/** The server frame with the given `type`, e.g. `ServerFrameOf<'message.new'>`. */
export type ServerFrameOf<T extends ServerFrameType> = Extract<ServerFrame, { type: T }>;

/**
 * The frames that take a place in a dialog's stream: whatever carries `dialogId`, `seq` and `epoch`
 * (`message.new`, `message.edited`, …). Derived from the protocol, so a new sequenced frame advances the
 * resume position without any change here. (`ack` has a `seq` but no `epoch`: it is not a stream event.)
 */
export type SequencedFrame = Extract<ServerFrame, { dialogId: string; seq: number; epoch: string }>;

export type AckFrame = ServerFrameOf<'ack'>;
export type ErrorFrame = ServerFrameOf<'error'>;

/** Client frames the server answers (with an `ack`, `call.created`, `call.ack` or an `error`) carrying the frame's `id`. */
export type RequestFrame = Extract<ClientFrame, { id: string }>;

/** Call requests: bound to this connection (its device), so never queued while offline nor re-sent after a reconnect. */
export type CallRequestFrame = Extract<RequestFrame, { type: `call.${string}` }>;

/** What answers a request: `ack` for message changes, `call.created` for `call.start`, `call.ack` for the other call frames. */
export type RequestAnswer = AckFrame | ServerFrameOf<'call.created'> | ServerFrameOf<'call.ack'>;

/** The answer to a request of the given type. */
export type AnswerOf<T extends RequestFrame['type']> = T extends 'call.start'
  ? ServerFrameOf<'call.created'>
  : T extends CallRequestFrame['type']
    ? ServerFrameOf<'call.ack'>
    : AckFrame;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A {@link RequestFrame} whose `id` the SDK assigns (a random UUID) unless the caller brings its own. */
export type RequestInput = DistributiveOmit<RequestFrame, 'id'> & { id?: string };

/** Fire-and-forget client frames: sent when connected, never queued or retried. */
export type NotifyFrame = Exclude<ClientFrame, RequestFrame | { type: 'auth' } | { type: 'resume' }>;

/** True for a call request (see {@link CallRequestFrame}). */
export function isCallRequest(frame: RequestFrame): frame is CallRequestFrame {
  return frame.type.startsWith('call.');
}

/** True for a server frame that answers a request by its `id` (see {@link RequestAnswer}). */
export function isRequestAnswer(frame: ServerFrame): frame is RequestAnswer {
  return frame.type === 'ack' || frame.type === 'call.created' || frame.type === 'call.ack';
}

/** True when the frame takes a place in a dialog's stream (see {@link SequencedFrame}). */
export function isSequenced(frame: ServerFrame): frame is SequencedFrame {
  const candidate = frame as Partial<Record<'dialogId' | 'seq' | 'epoch', unknown>>;
  return (
    typeof candidate.dialogId === 'string' &&
    typeof candidate.seq === 'number' &&
    typeof candidate.epoch === 'string'
  );
}

/** A received text frame as a server frame, or undefined when it is not a JSON object with a `type`. */
export function parseServerFrame(data: unknown): ServerFrame | undefined {
  if (typeof data !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  // The server is trusted for the shape of its frames; only the discriminant is checked here.
  return typeof (parsed as { type?: unknown }).type === 'string' ? (parsed as ServerFrame) : undefined;
}
