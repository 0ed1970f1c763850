import { z } from 'zod';
import { dialogBody, messageBody } from './dialogs.ts';

/** One page of `GET /v1/dialogs`, by last activity (newest first); pass `nextCursor` for the next. */
export const dialogsPage = z
  .object({ dialogs: z.array(dialogBody), nextCursor: z.string().optional() })
  .meta({ id: 'DialogsPage' });
export type DialogsPage = z.infer<typeof dialogsPage>;

/**
 * A page of `GET /v1/dialogs/{id}/messages`, oldest first. `oldestSeq`/`newestSeq` bound the page's window
 * even when messages in it are hidden for the caller (deleted for me): page on from them, not from
 * `messages`. Both are `null` for an empty window.
 */
export const historyPage = z
  .object({
    messages: z.array(messageBody),
    oldestSeq: z.number().nullable(),
    newestSeq: z.number().nullable(),
  })
  .meta({ id: 'HistoryPage' });
export type HistoryPage = z.infer<typeof historyPage>;

/**
 * What an edit, a deletion or a reaction answers: the message as it is now, and the `seq` of the event every
 * member's stream gets (`null` when nothing changed for others: a delete for me, a repeated reaction).
 */
export const messageChange = z
  .object({ seq: z.number().nullable(), message: messageBody })
  .meta({ id: 'MessageChange' });
export type MessageChange = z.infer<typeof messageChange>;

/** A member's receipt positions: everything up to `deliveredSeq` reached a device, up to `readSeq` was read. */
export const receipt = z
  .object({ userId: z.string(), deliveredSeq: z.number(), readSeq: z.number() })
  .meta({ id: 'Receipt' });
export type Receipt = z.infer<typeof receipt>;
export const receiptsBody = z.object({ receipts: z.array(receipt) }).meta({ id: 'Receipts' });
