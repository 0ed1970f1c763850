import { rectificationResult, rectifyUserBody } from '@parley/protocol';
import { z } from 'zod';
import { principalOf } from '../../http/auth-hook.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import { personActing } from './dsr-routes.ts';
import type { RectificationService } from './rectification-service.ts';

const userParams = z.object({ userId: z.uuid() });

/** An administrator corrects a user's personal data (GDPR Art. 16). */
export function rectificationRoutes(deps: { rectification: RectificationService }): RouteDeclaration[] {
  return [
    {
      method: 'POST',
      url: '/v1/users/:userId/rectification',
      operationId: 'rectifyUser',
      summary:
        'Correct a user’s display name, e-mail address, phone, avatar or custom data; recorded as a completed rectification request and audited by field names.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.manage' },
      schema: { params: userParams, body: rectifyUserBody, response: { 200: rectificationResult } },
      handler: async (request) => {
        const body = rectifyUserBody.parse(request.body);
        return deps.rectification.rectify(
          principalOf(request).tenantId,
          { ...personActing(request), isOwner: principalOf(request).roles.includes('owner') },
          userParams.parse(request.params).userId,
          body,
        );
      },
    },
  ];
}
