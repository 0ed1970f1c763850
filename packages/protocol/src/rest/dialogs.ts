import { z } from 'zod';
import { attachmentSummary } from './attachments.ts';

export const dialogTypes = ['private', 'group', 'broadcast', 'public'] as const;

/** Free-form JSON an app attaches, bounded. */
export const customData = z
  .record(z.string().max(64), z.unknown())
  .refine((value) => JSON.stringify(value).length <= 8192, 'must serialise to at most 8 KiB');

export const createDialogBody = z
  .object({
    type: z.enum(dialogTypes),
    /** Other participants (for private: exactly one). */
    memberIds: z.array(z.uuid()).max(1000).default([]),
    name: z.string().trim().min(1).max(200).optional(),
    description: z.string().max(2000).optional(),
    photoUrl: z
      .url({ protocol: /^https$/ })
      .max(2048)
      .optional(),
    customData: customData.optional(),
    /** Groups: new members see only what is sent after they join. */
    hideHistory: z.boolean().default(false),
  })
  .strict()
  .meta({ id: 'CreateDialogRequest' });
export type CreateDialogBody = z.infer<typeof createDialogBody>;

export const updateDialogBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    description: z.string().max(2000).nullable().optional(),
    photoUrl: z
      .url({ protocol: /^https$/ })
      .max(2048)
      .nullable()
      .optional(),
    customData: customData.nullable().optional(),
    muted: z.boolean().optional(),
    pinned: z.boolean().optional(),
  })
  .strict()
  .meta({ id: 'UpdateDialogRequest' });
export type UpdateDialogBody = z.infer<typeof updateDialogBody>;

/** Who reacted with what; at most `maxReactionKinds` different reactions per message. */
export const reactionSummary = z
  .object({ emoji: z.string(), userIds: z.array(z.string()) })
  .meta({ id: 'ReactionSummary' });
export type ReactionSummary = z.infer<typeof reactionSummary>;

/**
 * A reaction: one emoji (an RGI emoji sequence, or one pictographic character) or a short `:name:` shortcode.
 * Nothing else: reactions are stored unencrypted (routing metadata), so they must not carry free text.
 * (The `v` flag, for `\p{RGI_Emoji}`, is built at run time: only the server parses with it.)
 */
export const reactionKey = z
  .string()
  .min(1)
  .max(32)
  .regex(
    new RegExp(String.raw`^(?::[a-z0-9_+\-]{1,30}:|\p{RGI_Emoji}|\p{Extended_Pictographic}\u{FE0F}?)$`, 'v'),
    'one emoji or a :shortcode:',
  );

export const messageBody = z
  .object({
    id: z.string(),
    dialogId: z.string(),
    seq: z.number(),
    senderId: z.string(),
    clientId: z.string(),
    body: z.string().nullable(),
    replyTo: z.string().nullable(),
    mentions: z.array(z.string()),
    properties: z.record(z.string(), z.unknown()).nullable(),
    attachments: z.array(attachmentSummary),
    reactions: z.array(reactionSummary),
    createdAt: z.string(),
    editedAt: z.string().nullable(),
    deleted: z.boolean(),
  })
  .meta({ id: 'Message' });
export type MessageBody = z.infer<typeof messageBody>;

export const dialogBody = z
  .object({
    id: z.string(),
    type: z.enum(dialogTypes),
    name: z.string().nullable(),
    description: z.string().nullable(),
    photoUrl: z.string().nullable(),
    customData: z.record(z.string(), z.unknown()).nullable(),
    memberIds: z.array(z.string()),
    myRole: z.enum(['owner', 'admin', 'member']).nullable(),
    lastSeq: z.number(),
    unreadCount: z.number(),
    muted: z.boolean(),
    pinned: z.boolean(),
    lastMessage: messageBody.nullable(),
    lastActivityAt: z.string(),
    createdAt: z.string(),
  })
  .meta({ id: 'Dialog' });
export type DialogBody = z.infer<typeof dialogBody>;

export const sendMessageBody = z
  .object({
    /** Idempotency key: a retry with the same client id returns the same message. */
    clientId: z.string().min(1).max(64),
    /** May be empty when the message carries attachments. */
    body: z.string().max(65_536).default(''),
    replyTo: z.uuid().optional(),
    mentions: z.array(z.uuid()).max(100).default([]),
    properties: customData.optional(),
    /** Ids from `POST /v1/attachments` (uploaded by the sender, or visible to them). */
    attachments: z.array(z.uuid()).max(10).default([]),
  })
  .strict()
  .meta({ id: 'SendMessageRequest' });
export type SendMessageBody = z.infer<typeof sendMessageBody>;
