import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../compliance/audit/request-context.ts';

/** The audit context of a request. `request.ip` honours PARLEY_TRUST_PROXY behind a proxy. */
export function requestContext(request: FastifyRequest): RequestContext {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: userAgent?.slice(0, 512), requestId: request.id };
}
