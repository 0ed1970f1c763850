import { z } from 'zod';
import { principalOf } from '../http/auth-hook.ts';
import { requestContext } from '../http/request-context.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { TenantKeyRotationService } from './tenant-key-rotation.ts';

const rotationBody = z
  .object({
    dataKeyVersion: z.number().int(),
    rotationPending: z.boolean(),
    started: z.boolean(),
  })
  .meta({ id: 'TenantKeyRotation' });

/**
 * The tenant owner's data-key rotation (permission `tenant.manage`, held by owners only): always the caller's
 * own tenant. Its progress is in the evidence report's `key_management` control (`tenantRotationPending`).
 */
export function tenantKeyRotationRoutes(deps: {
  tenantKeyRotation: TenantKeyRotationService;
}): RouteDeclaration[] {
  return [
    {
      method: 'POST',
      url: '/v1/tenant/keys/rotation',
      operationId: 'rotateTenantDataKey',
      summary:
        'Rotate the tenant’s data key: new writes use a new version at once, user keys are re-wrapped in the background. While a rotation is pending, asking again starts none (started=false).',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'tenant.manage' },
      schema: { response: { 202: rotationBody } },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const rotation = await deps.tenantKeyRotation.rotate(principal.tenantId, {
          actor: {
            type: principal.userId === null ? 'client' : 'user',
            id: principal.userId ?? principal.clientId ?? undefined,
            sessionId: principal.sessionId,
          },
          context: requestContext(request),
        });
        return reply.code(202).send(rotation);
      },
    },
  ];
}
