import {
  createDialogBody,
  dialogBody,
  messageBody,
  sendMessageBody,
  updateDialogBody,
} from '@parley/protocol';
import { z } from 'zod';
import { AppError } from '../app-error.ts';
import { principalOf } from '../http/auth-hook.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { DialogService } from './dialog-service.ts';
import type { MessageService } from './message-service.ts';

const dialogParams = z.object({ dialogId: z.uuid() });
const seq = z.coerce.number().int().min(0);

function userOf(request: Parameters<typeof principalOf>[0]) {
  const principal = principalOf(request);
  if (principal.userId === null) throw new AppError('forbidden', 'Dialogs belong to users, not API clients.');
  return { tenantId: principal.tenantId, userId: principal.userId };
}

/** Dialogs and their messages over REST (the realtime channel is a later step). */
export function dialogRoutes(deps: { dialogs: DialogService; messages: MessageService }): RouteDeclaration[] {
  const read = { kind: 'authenticated', scope: 'chat', permission: 'dialogs.read' } as const;
  const write = { kind: 'authenticated', scope: 'chat', permission: 'dialogs.write' } as const;
  return [
    {
      method: 'POST',
      url: '/v1/dialogs',
      summary: 'Create a dialog (a private dialog with the same person answers the existing one).',
      tags: ['dialogs'],
      access: write,
      schema: { body: createDialogBody, response: { 201: dialogBody } },
      handler: async (request, reply) => {
        const { tenantId, userId } = userOf(request);
        return reply
          .code(201)
          .send(await deps.dialogs.create(tenantId, userId, createDialogBody.parse(request.body)));
      },
    },
    {
      method: 'GET',
      url: '/v1/dialogs',
      summary: 'The caller’s dialogs by last activity, with last message and unread count.',
      tags: ['dialogs'],
      access: read,
      schema: {
        querystring: z
          .object({
            limit: z.coerce.number().int().min(1).max(100).default(20),
            cursor: z.string().max(200).optional(),
          })
          .strict(),
        response: { 200: z.object({ dialogs: z.array(dialogBody), nextCursor: z.string().optional() }) },
      },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        return deps.dialogs.list(tenantId, userId, request.query as { limit: number; cursor?: string });
      },
    },
    {
      method: 'GET',
      url: '/v1/dialogs/:dialogId',
      summary: 'One dialog.',
      tags: ['dialogs'],
      access: read,
      schema: { params: dialogParams, response: { 200: dialogBody } },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        return deps.dialogs.get(tenantId, userId, dialogParams.parse(request.params).dialogId);
      },
    },
    {
      method: 'PATCH',
      url: '/v1/dialogs/:dialogId',
      summary:
        'Rename, describe, change photo or custom data (owner/admin); mute or pin (anyone, for themselves).',
      tags: ['dialogs'],
      access: write,
      schema: { params: dialogParams, body: updateDialogBody, response: { 200: dialogBody } },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        return deps.dialogs.update(
          tenantId,
          userId,
          dialogParams.parse(request.params).dialogId,
          updateDialogBody.parse(request.body),
        );
      },
    },
    {
      method: 'DELETE',
      url: '/v1/dialogs/:dialogId',
      summary:
        'mode=clear deletes the history for me, mode=leave leaves, mode=everyone deletes the dialog (owner).',
      tags: ['dialogs'],
      access: write,
      schema: {
        params: dialogParams,
        querystring: z.object({ mode: z.enum(['clear', 'leave', 'everyone']).default('leave') }).strict(),
      },
      handler: async (request, reply) => {
        const { tenantId, userId } = userOf(request);
        const { mode } = request.query as { mode: 'clear' | 'leave' | 'everyone' };
        await deps.dialogs.remove(tenantId, userId, dialogParams.parse(request.params).dialogId, mode);
        return reply.code(204).send();
      },
    },
    {
      method: 'POST',
      url: '/v1/dialogs/:dialogId/members/me',
      summary: 'Join a public dialog.',
      tags: ['dialogs'],
      access: write,
      schema: { params: dialogParams, response: { 200: dialogBody } },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        return deps.dialogs.join(tenantId, userId, dialogParams.parse(request.params).dialogId);
      },
    },
    {
      method: 'GET',
      url: '/v1/dialogs/:dialogId/messages',
      summary:
        'History: newest first page by default; before=SEQ for older, after=SEQ for newer (ascending).',
      tags: ['messages'],
      access: read,
      schema: {
        params: dialogParams,
        querystring: z
          .object({
            before: seq.optional(),
            after: seq.optional(),
            limit: z.coerce.number().int().min(1).max(200).default(50),
          })
          .strict(),
        response: {
          200: z.object({
            messages: z.array(messageBody),
            oldestSeq: z.number().nullable(),
            newestSeq: z.number().nullable(),
          }),
        },
      },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        return deps.messages.history(
          tenantId,
          userId,
          dialogParams.parse(request.params).dialogId,
          request.query as { limit: number },
        );
      },
    },
    {
      method: 'POST',
      url: '/v1/dialogs/:dialogId/messages',
      summary:
        'Send a message; answers after commit. A retry with the same clientId answers the same message (200).',
      tags: ['messages'],
      access: { kind: 'authenticated', scope: 'chat', permission: 'messages.send' },
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
      method: 'POST',
      url: '/v1/dialogs/:dialogId/read',
      summary: 'Read receipt: everything up to seq is read.',
      tags: ['messages'],
      access: read,
      schema: { params: dialogParams, body: z.object({ seq: z.number().int().min(0) }).strict() },
      handler: async (request, reply) => {
        const { tenantId, userId } = userOf(request);
        await deps.messages.markRead(
          tenantId,
          userId,
          dialogParams.parse(request.params).dialogId,
          (request.body as { seq: number }).seq,
        );
        return reply.code(204).send();
      },
    },
  ];
}
