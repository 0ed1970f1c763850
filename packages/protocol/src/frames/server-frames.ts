import { z } from 'zod';
import { callOutcomes, callSignal, participantStates } from './calls.ts';
import { messageBody, reactionSummary } from '../rest/dialogs.ts';

/**
 * The frames the server sends, as schemas: the AsyncAPI document at `/asyncapi.json` is generated from them.
 * `ServerFrame` (realtime.ts) is the type the server and SDK code against; a compile-time check there keeps the
 * two equal, so neither the document nor the code can drift from the other.
 */

/** Where a sequenced frame sits in its dialog's stream; clients resume from the last one they saw. */
const sequenced = { dialogId: z.string(), seq: z.number(), epoch: z.string() };

const callFrames = [
  z.object({ type: z.literal('call.created'), id: z.string(), callId: z.string() }),
  z
    .object({ type: z.literal('call.ack'), id: z.string(), callId: z.string() })
    .describe('`call.accept`, `call.reject` and `call.hangup` took effect (committed).'),
  z
    .object({
      type: z.literal('call.incoming'),
      callId: z.string(),
      callerId: z.string(),
      media: z.enum(['audio', 'video']),
      dialogId: z.string().nullable(),
      participantIds: z.array(z.string()),
    })
    .describe('To every device of a callee.'),
  z
    .object({
      type: z.literal('call.state'),
      callId: z.string(),
      state: z.enum(['ringing', 'active']),
      participants: z.array(
        z.object({
          userId: z.string(),
          state: z.enum(participantStates),
          /** The device that joined, for signaling; null until then. */
          deviceId: z.string().nullable(),
        }),
      ),
    })
    .describe(
      'To every device of every participant after each change; devices of a user who joined elsewhere stop ringing.',
    ),
  z.object({
    type: z.literal('call.signal'),
    callId: z.string(),
    fromUserId: z.string(),
    fromDeviceId: z.string(),
    signal: callSignal,
  }),
  z.object({ type: z.literal('call.ended'), callId: z.string(), outcome: z.enum(callOutcomes) }),
] as const;

/** Every server frame, by type. */
export const serverFrameSchemas = [
  z
    .object({
      type: z.literal('ready'),
      userId: z.string(),
      deviceId: z.string(),
      epoch: z.string(),
      heartbeatMs: z.number(),
    })
    .describe(
      'The answer to `auth`: the socket is signed in. `deviceId` names this connection for call signaling.',
    ),
  z
    .object({
      type: z.literal('ack'),
      id: z.string(),
      dialogId: z.string(),
      messageId: z.string(),
      seq: z.number().nullable(),
    })
    .describe(
      'A send, edit, deletion or reaction was committed. `seq` is the sequence number the change took (a message’s own seq for a send); null when unsequenced.',
    ),
  z.object({ type: z.literal('message.new'), message: messageBody, ...sequenced }),
  z
    .object({ type: z.literal('message.edited'), message: messageBody, ...sequenced })
    .describe('The message as it is after the edit.'),
  z.object({ type: z.literal('message.deleted'), messageId: z.string(), ...sequenced }),
  z.object({
    type: z.literal('message.reactions'),
    messageId: z.string(),
    reactions: z.array(reactionSummary),
    ...sequenced,
  }),
  z
    .object({
      type: z.literal('receipt'),
      dialogId: z.string(),
      userId: z.string(),
      deliveredSeq: z.number(),
      readSeq: z.number(),
    })
    .describe('Another member’s receipt (private dialogs and groups up to the receipt fan-out limit).'),
  z.object({
    type: z.literal('typing'),
    dialogId: z.string(),
    userId: z.string(),
    state: z.enum(['started', 'stopped']),
  }),
  z.object({
    type: z.literal('presence'),
    userId: z.string(),
    status: z.enum(['online', 'offline']),
    lastActiveAt: z.string().nullable(),
  }),
  ...callFrames,
  z
    .object({
      type: z.literal('resync'),
      dialogId: z.string(),
      reason: z.enum(['epoch_changed', 'too_far_behind']),
    })
    .describe('Positions in this dialog cannot be resumed: read its history afresh over REST.'),
  z
    .object({
      type: z.literal('error'),
      /** The refused frame's `id`, when it had one. */
      id: z.string().optional(),
      /**
       * A code from the error catalogue (docs/errors.md), or one of the realtime-only `malformed_frame`,
       * `invalid_frame` and `already_authenticated`.
       */
      code: z.string(),
      message: z.string(),
    })
    .describe('A frame was refused; repeated invalid frames close the socket (4029).'),
  z.object({ type: z.literal('pong') }).describe('The answer to `ping`.'),
] as const;

export const serverFrame = z.discriminatedUnion('type', serverFrameSchemas);
