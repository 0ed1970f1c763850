import { z } from 'zod';
import type { messageBody } from '../rest/dialogs.ts';

/**
 * A client's position in one dialog's stream. `epoch` changes when the database is restored from a backup:
 * a position from another epoch cannot be trusted, and the client must resync that dialog.
 */
export const dialogPosition = z.object({ seq: z.number().int().min(0), epoch: z.string().max(64) });
export type DialogPosition = z.infer<typeof dialogPosition>;

/** Frames a client sends. The first must be `auth`; tokens never travel in the URL. */
export const clientFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), token: z.string().min(1).max(200) }).strict(),
  z
    .object({
      type: z.literal('message.send'),
      /** The client id: the idempotency key, echoed in the ack. */
      id: z.string().min(1).max(64),
      dialogId: z.uuid(),
      body: z.string().min(1).max(65_536),
      replyTo: z.string().max(64).optional(),
      mentions: z.array(z.uuid()).max(100).optional(),
    })
    .strict(),
  z.object({ type: z.literal('read'), dialogId: z.uuid(), seq: z.number().int().min(0) }).strict(),
  z
    .object({
      type: z.literal('resume'),
      /** What the client has seen, per dialog. */
      positions: z
        .record(z.uuid(), dialogPosition)
        .refine((value) => Object.keys(value).length <= 1000, 'at most 1000 dialogs'),
    })
    .strict(),
  z.object({ type: z.literal('ping') }).strict(),
]);
export type ClientFrame = z.infer<typeof clientFrame>;

/** Frames the server sends. */
export type ServerFrame =
  | { type: 'ready'; userId: string; epoch: string; heartbeatMs: number }
  | { type: 'ack'; id: string; dialogId: string; messageId: string; seq: number }
  | {
      type: 'message.new';
      dialogId: string;
      seq: number;
      epoch: string;
      message: z.infer<typeof messageBody>;
    }
  | { type: 'resync'; dialogId: string; reason: 'epoch_changed' | 'too_far_behind' }
  | { type: 'error'; id?: string; code: string; message: string }
  | { type: 'pong' };
