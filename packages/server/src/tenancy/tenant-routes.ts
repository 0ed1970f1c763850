import { ownerSetupBody, signupBody } from '@parley/protocol';
import { z } from 'zod';
import { requestContext } from '../http/request-context.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { AccountService } from '../identity/account-service.ts';

const tenantParams = z.object({ tenantId: z.uuid() });
const created = z.object({ userId: z.string() });

/** Joining a tenant: the owner's one-time setup, and self-service sign-up where the tenant allows it. */
export function tenantRoutes(deps: { accounts: AccountService }): RouteDeclaration[] {
  return [
    {
      method: 'POST',
      url: '/v1/tenants/:tenantId/setup',
      operationId: 'setUpTenantOwner',
      summary: 'Create the first owner with the one-time setup token from `parley tenant create`.',
      tags: ['tenants'],
      access: { kind: 'public' },
      schema: { params: tenantParams, body: ownerSetupBody, response: { 201: created } },
      handler: async (request, reply) => {
        const { tenantId } = tenantParams.parse(request.params);
        const body = ownerSetupBody.parse(request.body);
        const userId = await deps.accounts.setupOwner(
          tenantId,
          body.setupToken,
          body,
          requestContext(request),
        );
        return reply.code(201).send({ userId });
      },
    },
    {
      method: 'POST',
      url: '/v1/tenants/:tenantId/signup',
      operationId: 'signUp',
      summary: 'Self-service sign-up (only when the tenant’s signup mode is open).',
      tags: ['tenants'],
      access: { kind: 'public' },
      schema: { params: tenantParams, body: signupBody, response: { 201: created } },
      handler: async (request, reply) => {
        const { tenantId } = tenantParams.parse(request.params);
        const userId = await deps.accounts.signup(
          tenantId,
          signupBody.parse(request.body),
          requestContext(request),
        );
        return reply.code(201).send({ userId });
      },
    },
  ];
}
