import {
  supportGrant,
  supportGrantAccessList,
  supportGrantApproval,
  supportGrantList,
  supportPolicy,
} from '@parley/protocol';
import { z } from 'zod';
import { principalOf } from '../../http/auth-hook.ts';
import { requestContext } from '../../http/request-context.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import { presentSupportAccess, presentSupportGrant } from './support-grant-presenter.ts';
import type { SupportGrantService } from './support-grant-service.ts';

const grantParams = z.object({ grantId: z.uuid() }).strict();
const manage = { kind: 'authenticated', scope: 'admin', permission: 'support_access.manage' } as const;

/** The tenant's side of support access: see requests, decide them, revoke, forbid, and see what was accessed. */
export function supportGrantRoutes({
  supportGrants,
}: {
  supportGrants: SupportGrantService;
}): RouteDeclaration[] {
  const decision = (verb: 'refuse' | 'revoke', operationId: string, summary: string): RouteDeclaration => ({
    method: 'POST',
    url: `/v1/support-grants/:grantId/${verb}`,
    operationId,
    summary,
    tags: ['support-access'],
    access: manage,
    schema: { params: grantParams, response: { 200: supportGrant } },
    handler: async (request) => {
      const { grantId } = grantParams.parse(request.params);
      const row = await supportGrants[verb](principalOf(request), grantId, requestContext(request));
      return presentSupportGrant(row);
    },
  });
  return [
    {
      method: 'GET',
      url: '/v1/support-grants',
      operationId: 'listSupportGrants',
      summary:
        'Operator support access requests and grants of the tenant, newest first (pending ones to decide).',
      tags: ['support-access'],
      access: manage,
      schema: { response: { 200: supportGrantList } },
      handler: async (request) => {
        const rows = await supportGrants.listForTenant(principalOf(request).tenantId);
        return { grants: rows.map(presentSupportGrant) };
      },
    },
    {
      method: 'POST',
      url: '/v1/support-grants/:grantId/approve',
      operationId: 'approveSupportGrant',
      summary: 'Approve a pending support access request, as asked or narrower (scope, hours); once only.',
      tags: ['support-access'],
      access: manage,
      schema: { params: grantParams, body: supportGrantApproval, response: { 200: supportGrant } },
      handler: async (request) => {
        const { grantId } = grantParams.parse(request.params);
        const body = supportGrantApproval.parse(request.body ?? {});
        const row = await supportGrants.approve(principalOf(request), grantId, body, requestContext(request));
        return presentSupportGrant(row);
      },
    },
    decision('refuse', 'refuseSupportGrant', 'Refuse a pending support access request.'),
    decision(
      'revoke',
      'revokeSupportGrant',
      'End an approved support access grant now (its next request fails).',
    ),
    {
      method: 'GET',
      url: '/v1/support-grants/:grantId/accesses',
      operationId: 'listSupportGrantAccesses',
      summary: 'Every request operator staff made under a grant, refused ones included, from the audit log.',
      tags: ['support-access'],
      access: manage,
      schema: { params: grantParams, response: { 200: supportGrantAccessList } },
      handler: async (request) => {
        const { grantId } = grantParams.parse(request.params);
        const entries = await supportGrants.accesses(principalOf(request).tenantId, grantId);
        return { accesses: entries.map(presentSupportAccess) };
      },
    },
    {
      method: 'GET',
      url: '/v1/support-policy',
      operationId: 'getSupportPolicy',
      summary: 'Whether operator staff may ask this tenant for support access.',
      tags: ['support-access'],
      access: manage,
      schema: { response: { 200: supportPolicy } },
      handler: async (request) => ({ allowed: await supportGrants.allowed(principalOf(request).tenantId) }),
    },
    {
      method: 'PUT',
      url: '/v1/support-policy',
      operationId: 'setSupportPolicy',
      summary: 'Allow or forbid operator support access; forbidding stops every grant on its next request.',
      tags: ['support-access'],
      access: manage,
      schema: { body: supportPolicy, response: { 200: supportPolicy } },
      handler: async (request) => {
        const { allowed } = supportPolicy.parse(request.body);
        await supportGrants.setAllowed(principalOf(request), allowed, requestContext(request));
        return { allowed };
      },
    },
  ];
}
