import { dialogBody } from '@parley/protocol';
import { z } from 'zod';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { DialogMemberService } from './dialog-member-service.ts';
import { dialogParams, userOf } from './dialog-routes.ts';

const memberParams = z.object({ dialogId: z.uuid(), userId: z.uuid() });

/** Group membership: owners and admins add and remove members; the owner names admins. */
export function memberRoutes(deps: { members: DialogMemberService }): RouteDeclaration[] {
  const write = { kind: 'authenticated', scope: 'chat', permission: 'dialogs.write' } as const;
  return [
    {
      method: 'POST',
      url: '/v1/dialogs/:dialogId/members',
      operationId: 'addDialogMembers',
      summary: 'Add members (owner/admin), up to the tenant’s group size limit.',
      tags: ['dialogs'],
      access: write,
      schema: {
        params: dialogParams,
        body: z.object({ userIds: z.array(z.uuid()).min(1).max(1000) }).strict(),
        response: { 200: dialogBody },
      },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        const { userIds } = request.body as { userIds: string[] };
        return deps.members.add(tenantId, userId, dialogParams.parse(request.params).dialogId, userIds);
      },
    },
    {
      method: 'DELETE',
      url: '/v1/dialogs/:dialogId/members/:userId',
      operationId: 'removeDialogMember',
      summary: 'Remove a member (owner/admin; only the owner removes admins).',
      tags: ['dialogs'],
      access: write,
      schema: { params: memberParams },
      handler: async (request, reply) => {
        const { tenantId, userId } = userOf(request);
        const params = memberParams.parse(request.params);
        await deps.members.remove(tenantId, userId, params.dialogId, params.userId);
        return reply.code(204).send();
      },
    },
    {
      method: 'PATCH',
      url: '/v1/dialogs/:dialogId/members/:userId',
      operationId: 'updateDialogMember',
      summary: 'Make a member an admin or a plain member again (owner only).',
      tags: ['dialogs'],
      access: write,
      schema: {
        params: memberParams,
        body: z.object({ role: z.enum(['admin', 'member']) }).strict(),
      },
      handler: async (request, reply) => {
        const { tenantId, userId } = userOf(request);
        const params = memberParams.parse(request.params);
        const { role } = request.body as { role: 'admin' | 'member' };
        await deps.members.setRole(tenantId, userId, params.dialogId, params.userId, role);
        return reply.code(204).send();
      },
    },
  ];
}
