import { z } from 'zod';
import { principalOf } from '../http/auth-hook.ts';
import { requestContext } from '../http/request-context.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { TenantCloseActor, TenantCloseService } from './tenant-close-service.ts';

const closeBody = z.object({
  /** Days the closed tenant stays readable and exportable before its purge; 30 when not given. */
  exportWindowDays: z.number().int().min(0).max(3650).optional(),
});

const certificate = z.object({
  certificate: z.record(z.string(), z.unknown()),
  signature: z.string(),
  keyId: z.string(),
  publicKey: z.string(),
});

/** A tenant's stage; the fields of a closure are null while it is active. */
export const tenantClosureBody = z.object({
  tenantId: z.string(),
  stage: z.enum(['active', 'closed', 'purging', 'purged']),
  closureId: z.string().nullable(),
  closedAt: z.string().nullable(),
  closedBy: z.string().nullable(),
  exportUntil: z.string().nullable(),
  purgeStartedAt: z.string().nullable(),
  purgedAt: z.string().nullable(),
  progress: z.object({ keysDestroyed: z.number(), rowsDeleted: z.record(z.string(), z.number()) }).nullable(),
  certificate: certificate.nullable(),
});

const tenantExportBody = z.object({
  exports: z.array(z.object({ userId: z.string(), exportId: z.string() })),
  skipped: z.array(z.object({ userId: z.string(), reason: z.string() })),
});

const ownerOf = (
  request: Parameters<RouteDeclaration['handler']>[0],
): TenantCloseActor & { type: 'user' } => {
  const principal = principalOf(request);
  return {
    type: 'user',
    userId: principal.userId ?? '',
    sessionId: principal.sessionId,
    context: requestContext(request),
  };
};

/**
 * Tenant termination by its owner (docs/privacy.md, "Tenant termination"): close, reopen during the export
 * window, see the stage, and export the whole tenant. The operator does the same with `parley tenant close`.
 */
export function tenantCloseRoutes(deps: { tenantClosures: TenantCloseService }): RouteDeclaration[] {
  const { tenantClosures } = deps;
  return [
    {
      method: 'GET',
      url: '/v1/tenant/closure',
      operationId: 'getTenantClosure',
      summary: 'The tenant’s stage (active, closed, purging) and, when closed, the end of its export window.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'tenant.read' },
      schema: { response: { 200: tenantClosureBody } },
      handler: (request) => tenantClosures.status(principalOf(request).tenantId),
    },
    {
      method: 'POST',
      url: '/v1/tenant/closure',
      operationId: 'closeTenant',
      summary:
        'Close the tenant: read-only at once (every write refused with tenant_closed), exportable for the export window (30 days unless given), then purged with its keys.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'tenant.manage' },
      schema: { body: closeBody, response: { 201: tenantClosureBody } },
      handler: async (request, reply) => {
        const body = closeBody.parse(request.body ?? {});
        const closed = await tenantClosures.close(
          principalOf(request).tenantId,
          ownerOf(request),
          body.exportWindowDays === undefined ? {} : { exportWindowDays: body.exportWindowDays },
        );
        return reply.code(201).send(closed);
      },
    },
    {
      method: 'DELETE',
      url: '/v1/tenant/closure',
      operationId: 'reopenTenant',
      summary: 'Reopen the closed tenant during its export window; refused once the purge started.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'tenant.manage' },
      schema: { response: { 200: tenantClosureBody } },
      handler: (request) => tenantClosures.reopen(principalOf(request).tenantId, ownerOf(request)),
    },
    {
      method: 'POST',
      url: '/v1/tenant/export',
      operationId: 'exportTenant',
      summary:
        'Export the whole tenant: one archive per account (not erased), built by the data export engine; each is downloaded with GET /v1/exports/{exportId}/archive.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'tenant.manage' },
      schema: { response: { 202: tenantExportBody } },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        return reply.code(202).send(await tenantClosures.exportTenant(principal.tenantId, ownerOf(request)));
      },
    },
  ];
}
