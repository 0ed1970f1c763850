import { supportGrant, supportGrantList, supportGrantRequest } from '@parley/protocol';
import { staffOf } from '../../http/auth-hook.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import { presentSupportGrant } from './support-grant-presenter.ts';
import type { SupportGrantService } from './support-grant-service.ts';

/** The staff side of support access: ask a tenant, see one's own requests and grants. Support staff only. */
export function supportRequestRoutes({
  supportGrants,
}: {
  supportGrants: SupportGrantService;
}): RouteDeclaration[] {
  return [
    {
      method: 'POST',
      url: '/v1/platform/support-grants',
      operationId: 'requestSupportGrant',
      summary:
        'Ask one tenant for support access: a reason, a scope (metadata, user_admin, or messages of named dialogs) and at most 72 hours. Acts under it with the Parley-Support-Grant header once approved.',
      tags: ['platform'],
      access: { kind: 'platform', roles: ['support'] },
      schema: { body: supportGrantRequest, response: { 201: supportGrant } },
      handler: async (request, reply) => {
        const row = await supportGrants.request(staffOf(request), supportGrantRequest.parse(request.body));
        return reply.code(201).send(presentSupportGrant(row));
      },
    },
    {
      method: 'GET',
      url: '/v1/platform/support-grants',
      operationId: 'listMySupportGrants',
      summary: 'The calling support staff member’s requests and grants, newest first.',
      tags: ['platform'],
      access: { kind: 'platform', roles: ['support'] },
      schema: { response: { 200: supportGrantList } },
      handler: async (request) => {
        const rows = await supportGrants.listForStaff(staffOf(request).staffId);
        return { grants: rows.map(presentSupportGrant) };
      },
    },
  ];
}
