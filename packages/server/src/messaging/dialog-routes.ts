import { createDialogBody, dialogBody, dialogsPage, updateDialogBody } from '@parley/protocol';
import { z } from 'zod';
import { AppError } from '../app-error.ts';
import { principalOf } from '../http/auth-hook.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { DialogService } from './dialog-service.ts';

export const dialogParams = z.object({ dialogId: z.uuid() });
/** The signed-in user; API clients (client_credentials) have no dialogs. */
export function userOf(request: Parameters<typeof principalOf>[0]) {
  const principal = principalOf(request);
  if (principal.userId === null) throw new AppError('forbidden', 'Dialogs belong to users, not API clients.');
  return { tenantId: principal.tenantId, userId: principal.userId };
}

/** Dialogs over REST: create, list, read, change, leave or delete, join public ones. */
export function dialogRoutes(deps: { dialogs: DialogService }): RouteDeclaration[] {
  const read = { kind: 'authenticated', scope: 'chat', permission: 'dialogs.read' } as const;
  const write = { kind: 'authenticated', scope: 'chat', permission: 'dialogs.write' } as const;
  return [
    {
      method: 'POST',
      url: '/v1/dialogs',
      operationId: 'createDialog',
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
      operationId: 'listDialogs',
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
        response: { 200: dialogsPage },
      },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        return deps.dialogs.list(tenantId, userId, request.query as { limit: number; cursor?: string });
      },
    },
    {
      method: 'GET',
      url: '/v1/dialogs/:dialogId',
      operationId: 'getDialog',
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
      operationId: 'updateDialog',
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
      operationId: 'deleteDialog',
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
      operationId: 'joinDialog',
      summary: 'Join a public dialog.',
      tags: ['dialogs'],
      access: write,
      schema: { params: dialogParams, response: { 200: dialogBody } },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        return deps.dialogs.join(tenantId, userId, dialogParams.parse(request.params).dialogId);
      },
    },
  ];
}
