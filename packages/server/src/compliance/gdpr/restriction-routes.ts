import { liftRestrictionBody, restrictionList, restrictionResult, restrictUserBody } from '@parley/protocol';
import { z } from 'zod';
import { principalOf } from '../../http/auth-hook.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import { personActing } from './dsr-routes.ts';
import type { AccountActor, RestrictionService } from './restriction-service.ts';

const userParams = z.object({ userId: z.uuid() });

/** Restriction of processing (GDPR Art. 18): freeze an account, lift it, read its history. */
export function restrictionRoutes(deps: { restrictions: RestrictionService }): RouteDeclaration[] {
  const actorOf = (request: Parameters<RouteDeclaration['handler']>[0]): AccountActor => ({
    ...personActing(request),
    isOwner: principalOf(request).roles.includes('owner'),
  });
  return [
    {
      method: 'POST',
      url: '/v1/users/:userId/restriction',
      operationId: 'restrictUser',
      summary:
        'Restrict processing of a user’s account: data kept, every session ends at once (open sockets close), no sign-in, no changes. Recorded as a completed request.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.restrict' },
      schema: { params: userParams, body: restrictUserBody, response: { 201: restrictionResult } },
      handler: async (request, reply) => {
        const actor = actorOf(request);
        const result = await deps.restrictions.restrict(
          principalOf(request).tenantId,
          actor,
          userParams.parse(request.params).userId,
          restrictUserBody.parse(request.body),
        );
        return reply.code(201).send(result);
      },
    },
    {
      method: 'POST',
      url: '/v1/users/:userId/restriction/lift',
      operationId: 'liftUserRestriction',
      summary: 'Lift the restriction of a user’s account; it gets back the status it had before.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.restrict' },
      schema: { params: userParams, body: liftRestrictionBody },
      handler: async (request, reply) => {
        const actor = actorOf(request);
        await deps.restrictions.lift(
          principalOf(request).tenantId,
          actor,
          userParams.parse(request.params).userId,
          liftRestrictionBody.parse(request.body),
        );
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: '/v1/users/:userId/restrictions',
      operationId: 'listUserRestrictions',
      summary: 'Every restriction of a user’s account, newest first, with its reasons.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.restrict' },
      schema: { params: userParams, response: { 200: restrictionList } },
      handler: async (request) => ({
        restrictions: await deps.restrictions.history(
          principalOf(request).tenantId,
          userParams.parse(request.params).userId,
        ),
      }),
    },
  ];
}
