import { z } from 'zod';
import { callClientFrames, type CallServerFrame } from './calls.ts';
import { customData, type messageBody, reactionKey, type reactionSummary } from '../rest/dialogs.ts';
import { storableInput } from '../storable-input.ts';
import type { serverFrame } from './server-frames.ts';

/**
 * A client's position in one dialog's stream. `epoch` changes when the database is restored from a backup:
 * a position from another epoch cannot be trusted, and the client must resync that dialog.
 */
export const dialogPosition = z.object({ seq: z.number().int().min(0), epoch: z.string().max(64) });
export type DialogPosition = z.infer<typeof dialogPosition>;

/** Positions per dialog, at most 1000 per frame. */
const dialogPositions = z
  .record(z.uuid(), dialogPosition)
  .refine((value) => Object.keys(value).length <= 1000, 'at most 1000 dialogs');

/** The frames a client may send, by type; see {@link clientFrame}. The AsyncAPI document is built from them. */
export const clientFrameTypes = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('auth'),
      token: z.string().min(1).max(200),
      /**
       * Resume positions, replayed before any live delivery can start: a reconnecting client should send them
       * here rather than in a later `resume` frame, which a live message could overtake.
       */
      positions: dialogPositions.optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('message.send'),
      /** The client id: the idempotency key, echoed in the ack. */
      id: z.string().min(1).max(64),
      dialogId: z.uuid(),
      /** May be empty when the message carries attachments. */
      body: z.string().max(65_536),
      replyTo: z.uuid().optional(),
      mentions: z.array(z.uuid()).max(100).optional(),
      properties: customData.optional(),
      attachments: z.array(z.uuid()).max(10).optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('message.edit'),
      /** A request id, echoed in the ack or error. */
      id: z.string().min(1).max(64),
      dialogId: z.uuid(),
      messageId: z.uuid(),
      body: z.string().min(1).max(65_536),
    })
    .strict(),
  z
    .object({
      type: z.literal('message.delete'),
      id: z.string().min(1).max(64),
      dialogId: z.uuid(),
      messageId: z.uuid(),
      /** false: hide it for me only (not sequenced). */
      forEveryone: z.boolean(),
    })
    .strict(),
  z
    .object({
      type: z.literal('reaction'),
      id: z.string().min(1).max(64),
      dialogId: z.uuid(),
      messageId: z.uuid(),
      emoji: reactionKey,
      op: z.enum(['add', 'remove']),
    })
    .strict(),
  z.object({ type: z.literal('read'), dialogId: z.uuid(), seq: z.number().int().min(0) }).strict(),
  /** Delivered receipt: messages up to `seq` reached this device. */
  z.object({ type: z.literal('delivered'), dialogId: z.uuid(), seq: z.number().int().min(0) }).strict(),
  /** Ephemeral; repeat `started` every few seconds while typing, send `stopped` when done. */
  z.object({ type: z.literal('typing'), dialogId: z.uuid(), state: z.enum(['started', 'stopped']) }).strict(),
  /** Follow these users' presence (replaces the previous set); invisible users are silently left out. */
  z.object({ type: z.literal('presence.subscribe'), userIds: z.array(z.uuid()).max(500) }).strict(),
  z
    .object({
      type: z.literal('resume'),
      /** What the client has seen, per dialog. */
      positions: dialogPositions,
    })
    .strict(),
  z.object({ type: z.literal('ping') }).strict(),
  ...callClientFrames,
]);

/**
 * Frames a client sends. The first must be `auth`; tokens never travel in the URL. Text no column can hold
 * (NUL, lone surrogates) and over-deep nesting are refused anywhere in a frame, as on REST requests.
 */
export const clientFrame = storableInput(clientFrameTypes);
export type ClientFrame = z.infer<typeof clientFrame>;

type MessageBody = z.infer<typeof messageBody>;

/** Where a sequenced frame sits in its dialog's stream; clients resume from the last one they saw. */
interface Sequenced {
  dialogId: string;
  seq: number;
  epoch: string;
}

/** Frames the server sends. */
export type ServerFrame =
  /** `deviceId` names this connection for call signaling. */
  | { type: 'ready'; userId: string; deviceId: string; epoch: string; heartbeatMs: number }
  /** `seq` is the sequence number the change took (a message's own seq for a send); null when unsequenced. */
  | { type: 'ack'; id: string; dialogId: string; messageId: string; seq: number | null }
  | ({ type: 'message.new'; message: MessageBody } & Sequenced)
  /** The message as it is after the edit. */
  | ({ type: 'message.edited'; message: MessageBody } & Sequenced)
  | ({ type: 'message.deleted'; messageId: string } & Sequenced)
  | ({
      type: 'message.reactions';
      messageId: string;
      reactions: z.infer<typeof reactionSummary>[];
    } & Sequenced)
  /** Another member's receipt (private dialogs and groups up to the receipt fan-out limit). */
  | { type: 'receipt'; dialogId: string; userId: string; deliveredSeq: number; readSeq: number }
  | { type: 'typing'; dialogId: string; userId: string; state: 'started' | 'stopped' }
  | { type: 'presence'; userId: string; status: 'online' | 'offline'; lastActiveAt: string | null }
  | CallServerFrame
  | { type: 'resync'; dialogId: string; reason: 'epoch_changed' | 'too_far_behind' }
  | { type: 'error'; id?: string; code: string; message: string }
  | { type: 'pong' };

/** True when two types are each assignable to the other. */
type SameShape<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<Check extends true> = Check;
/**
 * Compile-time: the schemas in server-frames.ts (what `/asyncapi.json` documents) accept exactly the frames
 * `ServerFrame` allows; a frame added to one and not the other fails the build.
 */
export type ServerFramesDocumented = Holds<SameShape<ServerFrame, z.infer<typeof serverFrame>>>;
