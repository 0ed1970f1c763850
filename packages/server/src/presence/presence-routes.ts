import { blocksBody, presenceBody, type PresenceVisibility, presenceVisibility } from '@parley/protocol';
import { z } from 'zod';
import { AppError } from '../app-error.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { BlockService } from '../messaging/block-service.ts';
import { userOf } from '../messaging/dialog-routes.ts';
import type { PresenceService } from './presence-service.ts';

const userParams = z.object({ userId: z.uuid() });

/** Presence, its privacy setting, and block lists. */
export function presenceRoutes(deps: {
  presence: PresenceService;
  blocks: BlockService;
}): RouteDeclaration[] {
  const profile = { kind: 'authenticated', scope: 'profile', permission: 'profile.update' } as const;
  return [
    {
      method: 'GET',
      url: '/v1/users/:userId/presence',
      operationId: 'getUserPresence',
      summary: 'A user’s presence and last activity, if their privacy setting lets you see it (else 404).',
      tags: ['presence'],
      access: { kind: 'authenticated', scope: 'chat', permission: 'dialogs.read' },
      schema: { params: userParams, response: { 200: presenceBody } },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        const subject = userParams.parse(request.params).userId;
        const [view] = await deps.presence.view(tenantId, userId, [subject]);
        if (!view) throw new AppError('not_found');
        return view;
      },
    },
    {
      method: 'PUT',
      url: '/v1/me/presence-visibility',
      operationId: 'setPresenceVisibility',
      summary: 'Who sees your presence: everyone in the tenant, contacts (a shared dialog) or nobody.',
      tags: ['presence'],
      access: profile,
      schema: {
        body: z.object({ visibility: presenceVisibility }).strict(),
      },
      handler: async (request, reply) => {
        const { tenantId, userId } = userOf(request);
        const { visibility } = request.body as { visibility: PresenceVisibility };
        await deps.presence.setVisibility(tenantId, userId, visibility);
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: '/v1/me/blocks',
      operationId: 'listBlocks',
      summary: 'The users you blocked.',
      tags: ['presence'],
      access: profile,
      schema: {
        response: { 200: blocksBody },
      },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        return { blocks: await deps.blocks.list(tenantId, userId) };
      },
    },
    {
      method: 'PUT',
      url: '/v1/me/blocks/:userId',
      operationId: 'blockUser',
      summary:
        'Block a user: no private messages or typing between you, and neither sees the other’s presence.',
      tags: ['presence'],
      access: profile,
      schema: { params: userParams },
      handler: async (request, reply) => {
        const { tenantId, userId } = userOf(request);
        await deps.blocks.block(tenantId, userId, userParams.parse(request.params).userId);
        return reply.code(204).send();
      },
    },
    {
      method: 'DELETE',
      url: '/v1/me/blocks/:userId',
      operationId: 'unblockUser',
      summary: 'Unblock a user.',
      tags: ['presence'],
      access: profile,
      schema: { params: userParams },
      handler: async (request, reply) => {
        const { tenantId, userId } = userOf(request);
        await deps.blocks.unblock(tenantId, userId, userParams.parse(request.params).userId);
        return reply.code(204).send();
      },
    },
  ];
}
