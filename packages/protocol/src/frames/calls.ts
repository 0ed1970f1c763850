import { z } from 'zod';

/** Most participants of one call: a full mesh of peer connections grows with the square of this. */
export const MAX_CALL_PARTICIPANTS = 8;

export const callMedia = z.enum(['audio', 'video']);

/** SDP and ICE, relayed as they are between two devices; never stored. */
export const callSignal = z.discriminatedUnion('type', [
  z
    .object({
      /** An offer also renegotiates (video on/off) and restarts ICE (`a=ice-options` / new credentials). */
      type: z.enum(['offer', 'answer']),
      sdp: z.string().min(1).max(20_000),
    })
    .strict(),
  z
    .object({
      type: z.literal('candidate'),
      /** null: end of candidates. */
      candidate: z
        .object({
          candidate: z.string().max(1024),
          sdpMid: z.string().max(64).nullable().optional(),
          sdpMLineIndex: z.number().int().min(0).max(255).nullable().optional(),
          usernameFragment: z.string().max(256).nullable().optional(),
        })
        .strict()
        .nullable(),
    })
    .strict(),
]);
export type CallSignal = z.infer<typeof callSignal>;

const callId = z.uuid();

/** Call frames a client sends; `id` is a request id echoed in the answer or error. */
export const callClientFrames = [
  z
    .object({
      type: z.literal('call.start'),
      id: z.string().min(1).max(64),
      /** A user (1:1) or a dialog whose members are rung (a group call, up to MAX_CALL_PARTICIPANTS). */
      to: z.union([z.object({ userId: z.uuid() }).strict(), z.object({ dialogId: z.uuid() }).strict()]),
      media: callMedia,
    })
    .strict(),
  /** Accept on this device (the user's other devices stop ringing), or join a group call in progress. */
  z.object({ type: z.literal('call.accept'), id: z.string().min(1).max(64), callId }).strict(),
  z.object({ type: z.literal('call.reject'), id: z.string().min(1).max(64), callId }).strict(),
  z.object({ type: z.literal('call.hangup'), id: z.string().min(1).max(64), callId }).strict(),
  z
    .object({
      type: z.literal('call.signal'),
      callId,
      /** The participant device to relay to (from `call.state`). */
      toDeviceId: z.uuid(),
      signal: callSignal,
    })
    .strict(),
] as const;

export const callOutcomes = ['completed', 'missed', 'rejected', 'busy', 'cancelled', 'failed'] as const;
export type CallOutcome = (typeof callOutcomes)[number];

export const participantStates = ['ringing', 'joined', 'left', 'rejected', 'missed', 'busy'] as const;
export type ParticipantState = (typeof participantStates)[number];

export interface CallParticipantView {
  userId: string;
  state: ParticipantState;
  /** The device that joined, for signaling; null until then. */
  deviceId: string | null;
}

/** Call frames the server sends. */
export type CallServerFrame =
  | { type: 'call.created'; id: string; callId: string }
  /** `call.accept`, `call.reject` and `call.hangup` took effect (committed). */
  | { type: 'call.ack'; id: string; callId: string }
  /** To every device of a callee. */
  | {
      type: 'call.incoming';
      callId: string;
      callerId: string;
      media: 'audio' | 'video';
      dialogId: string | null;
      participantIds: string[];
    }
  /** To every device of every participant after each change; devices of a user who joined elsewhere stop ringing. */
  | {
      type: 'call.state';
      callId: string;
      state: 'ringing' | 'active';
      participants: CallParticipantView[];
    }
  | { type: 'call.signal'; callId: string; fromUserId: string; fromDeviceId: string; signal: CallSignal }
  | { type: 'call.ended'; callId: string; outcome: CallOutcome };
