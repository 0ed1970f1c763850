import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TenantCloseService } from '../tenancy/tenant-close-service.ts';
import { sendError } from './error-mapper.ts';

/**
 * Writes that go on while a tenant is closed: reopening it, exporting (the export window exists for it),
 * removing one's export archives, and signing out. Everything else that is not a read is refused.
 */
const allowedWhileClosed = new Set([
  'reopenTenant',
  'exportTenant',
  'requestMyExport',
  'requestUserExport',
  'deleteMyExport',
  'deleteExport',
  'endMySessions',
  'endMySession',
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Public routes that write into the tenant named in their path. */
const publicWrites = new Set(['signUp', 'setUpTenantOwner']);

/**
 * Read-only closed tenants (tenancy/tenant-close-service.ts): after the auth hook, a write of a closed tenant is
 * `tenant_closed` (409); any request of a tenant being purged, or purged, is `tenant_purged` (410). Reads and
 * exports go on during the export window.
 */
export function installTenantClosedHook(
  fastify: FastifyInstance,
  closures: Pick<TenantCloseService, 'stageOf'>,
): void {
  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const operationId = request.routeOptions.schema?.operationId;
    const access = request.routeOptions.config.access;
    if (access?.kind === 'public') {
      // A tenant id that never existed stays the route's own 404.
      const tenantId = (request.params as Record<string, string> | undefined)?.tenantId;
      // Only a well-formed id is looked up: anything else is the route's own 400 or 404 (a NUL byte in a path
      // segment must not reach the database before the route's validation refuses it).
      if (tenantId === undefined || !publicWrites.has(operationId ?? '') || !UUID.test(tenantId))
        return undefined;
      const stage = await closures.stageOf(tenantId);
      if (stage === 'closed') return sendError(reply, 'tenant_closed');
      return stage === 'purging' ? sendError(reply, 'tenant_purged') : undefined;
    }
    const tenantId = request.principal?.tenantId;
    if (tenantId === undefined) return undefined;
    const stage = await closures.stageOf(tenantId);
    if (stage === 'active') return undefined;
    if (stage !== 'closed') return sendError(reply, 'tenant_purged');
    const read = request.method === 'GET' || request.method === 'HEAD';
    if (read || allowedWhileClosed.has(operationId ?? '')) return undefined;
    return sendError(reply, 'tenant_closed');
  });
}
