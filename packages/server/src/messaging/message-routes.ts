import {
  historyPage,
  messageBody,
  messageChange,
  reactionKey,
  receiptsBody,
  sendMessageBody,
} from '@parley/protocol';
import { z } from 'zod';
import type { RouteDeclaration } from '../http/route-table.ts';
import { principalOf } from '../http/auth-hook.ts';
import { dialogParams, userOf } from './dialog-routes.ts';
import type { MessageChangeService } from './message-change-service.ts';
import type { MessageService } from './message-service.ts';
import type { ReceiptService } from './receipt-service.ts';
import { type ReadRecorder, recordShownMessages } from '../compliance/access-log/access-record.ts';

const seq = z.coerce.number().int().min(0);
const messageParams = z.object({ dialogId: z.uuid(), messageId: z.uuid() });
const reactionParams = messageParams.extend({ emoji: reactionKey });
const historyQuery = z
  .object({
    before: seq.optional(),
    after: seq.optional(),
    around: z.uuid().optional(),
    at: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict()
  .refine(
    (query) =>
      [query.before ?? query.after, query.around, query.at].filter((value) => value !== undefined).length <=
      1,
    'use one of before/after, around or at',
  );

/** Messages over REST: history, send, edit, delete, reactions and receipts. */
export function messageRoutes(deps: {
  messages: MessageService;
  messageChanges: MessageChangeService;
  receipts: ReceiptService;
  /** Who read what, where the tenant records it (compliance/access-log/). */
  accessLog?: { recorder: ReadRecorder };
}): RouteDeclaration[] {
  const read = { kind: 'authenticated', scope: 'chat', permission: 'dialogs.read' } as const;
  const send = { kind: 'authenticated', scope: 'chat', permission: 'messages.send' } as const;
  /** Adding and removing one's reaction: the same route but for the method and the operation. */
  const reactionRoute = (
    method: 'PUT' | 'DELETE',
    op: 'add' | 'remove',
    summary: string,
  ): RouteDeclaration => ({
    method,
    url: '/v1/dialogs/:dialogId/messages/:messageId/reactions/:emoji',
    operationId: `${op}Reaction`,
    summary,
    tags: ['messages'],
    access: send,
    schema: { params: reactionParams, response: { 200: messageChange } },
    handler: async (request) => {
      const { tenantId, userId } = userOf(request);
      const { dialogId, messageId, emoji } = reactionParams.parse(request.params);
      return deps.messageChanges.react(tenantId, userId, dialogId, messageId, emoji, op);
    },
  });

  /** A read or delivered receipt up to `seq`: the same route but for the position it moves. */
  const receiptRoute = (kind: 'read' | 'delivered', summary: string): RouteDeclaration => ({
    method: 'POST',
    url: `/v1/dialogs/:dialogId/${kind}`,
    operationId: kind === 'read' ? 'markRead' : 'markDelivered',
    summary,
    tags: ['messages'],
    access: read,
    schema: { params: dialogParams, body: z.object({ seq: z.number().int().min(0) }).strict() },
    handler: async (request, reply) => {
      const { tenantId, userId } = userOf(request);
      const { seq: upTo } = request.body as { seq: number };
      const { dialogId } = dialogParams.parse(request.params);
      if (kind === 'read') await deps.receipts.markRead(tenantId, userId, dialogId, upTo);
      else await deps.receipts.markDelivered(tenantId, userId, dialogId, upTo);
      return reply.code(204).send();
    },
  });

  return [
    {
      method: 'GET',
      url: '/v1/dialogs/:dialogId/messages',
      operationId: 'listMessages',
      summary:
        'History, oldest first within the page: newest page by default; before=SEQ older, after=SEQ newer, ' +
        'around=MESSAGE_ID the context of a message, at=ISO_TIME jump to a date.',
      tags: ['messages'],
      access: read,
      schema: {
        params: dialogParams,
        querystring: historyQuery,
        response: { 200: historyPage },
      },
      handler: async (request) => {
        const query = historyQuery.parse(request.query);
        const { dialogId } = dialogParams.parse(request.params);
        const pageQuery = { ...query, at: query.at === undefined ? undefined : Date.parse(query.at) };
        // Operator staff under a `messages` support grant naming this dialog (checked by the auth hook).
        const principal = principalOf(request);
        const page = principal.supportGrant
          ? await deps.messages.supportHistory(principal.tenantId, dialogId, pageQuery)
          : await deps.messages.history(principal.tenantId, userOf(request).userId, dialogId, pageQuery);
        const shown = page.messages.map((message) => ({ dialogId, seq: message.seq }));
        recordShownMessages(deps.accessLog?.recorder, principal, 'history', shown);
        return page;
      },
    },
    {
      method: 'POST',
      url: '/v1/dialogs/:dialogId/messages',
      operationId: 'sendMessage',
      summary:
        'Send a message; answers after commit. A retry with the same clientId answers the same message (200).',
      tags: ['messages'],
      access: send,
      schema: {
        params: dialogParams,
        body: sendMessageBody,
        response: { 200: messageBody, 201: messageBody },
      },
      handler: async (request, reply) => {
        const { tenantId, userId } = userOf(request);
        const { message, duplicate } = await deps.messages.send(
          tenantId,
          userId,
          dialogParams.parse(request.params).dialogId,
          sendMessageBody.parse(request.body),
        );
        return reply.code(duplicate ? 200 : 201).send(message);
      },
    },
    {
      method: 'PATCH',
      url: '/v1/dialogs/:dialogId/messages/:messageId',
      operationId: 'editMessage',
      summary: 'Edit your message’s text (flagged with the edit time; a sequenced event for every member).',
      tags: ['messages'],
      access: send,
      schema: {
        params: messageParams,
        body: z.object({ body: z.string().min(1).max(65_536) }).strict(),
        response: { 200: messageChange },
      },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        const { dialogId, messageId } = messageParams.parse(request.params);
        const { body } = request.body as { body: string };
        return deps.messageChanges.edit(tenantId, userId, dialogId, messageId, body);
      },
    },
    {
      method: 'DELETE',
      url: '/v1/dialogs/:dialogId/messages/:messageId',
      operationId: 'deleteMessage',
      summary:
        'for=everyone deletes the message for all (sender, or group owner/admin); for=me hides it for you.',
      tags: ['messages'],
      access: send,
      schema: {
        params: messageParams,
        querystring: z.object({ for: z.enum(['me', 'everyone']).default('me') }).strict(),
        response: { 200: messageChange },
      },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        const { dialogId, messageId } = messageParams.parse(request.params);
        const { for: scope } = request.query as { for: 'me' | 'everyone' };
        return deps.messageChanges.remove(tenantId, userId, dialogId, messageId, scope === 'everyone');
      },
    },
    reactionRoute('PUT', 'add', 'Add your reaction (idempotent).'),
    reactionRoute('DELETE', 'remove', 'Remove your reaction (idempotent).'),
    receiptRoute('read', 'Read receipt: everything up to seq is read (and delivered).'),
    receiptRoute('delivered', 'Delivered receipt: everything up to seq reached one of your devices.'),
    {
      method: 'GET',
      url: '/v1/dialogs/:dialogId/receipts',
      operationId: 'listReceipts',
      summary: 'Each member’s delivered and read positions (“seen by”).',
      tags: ['messages'],
      access: read,
      schema: {
        params: dialogParams,
        response: { 200: receiptsBody },
      },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        return {
          receipts: await deps.receipts.receipts(
            tenantId,
            userId,
            dialogParams.parse(request.params).dialogId,
          ),
        };
      },
    },
  ];
}
