import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal, SessionService } from '../identity/session-service.ts';
import { sendError } from './error-mapper.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every authenticated route. */
    principal?: Principal;
  }
}

/** The principal of an authenticated route; the auth hook guarantees it exists there. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route is not declared authenticated');
  return request.principal;
}

const bearerPattern = /^Bearer ([A-Za-z0-9_-]{20,200})$/;

/**
 * Enforces each route's declared access before the body is even read: bearer token → principal → scope →
 * permission; a tenant id in the path that is not the caller's tenant answers 404, as if it did not exist.
 */
export function installAuthHook(fastify: FastifyInstance, sessions: SessionService): void {
  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // Tokens in URLs end up in logs, proxies and browser history: refused everywhere, even on public routes.
    const query = request.url.indexOf('?');
    if (query !== -1 && /(^|&)(access_token|token)=/.test(request.url.slice(query + 1))) {
      return sendError(reply, 'token_in_query');
    }
    const access = request.routeOptions.config.access;
    if (access === undefined || access.kind === 'public') return undefined;
    const match = bearerPattern.exec(request.headers.authorization ?? '');
    if (!match?.[1]) {
      return sendError(reply.header('www-authenticate', 'Bearer realm="parley"'), 'unauthorized');
    }
    const result = await sessions.authenticate(match[1]);
    if (typeof result === 'string') {
      return sendError(
        reply.header('www-authenticate', 'Bearer realm="parley", error="invalid_token"'),
        'invalid_token',
      );
    }
    const params = request.params as Record<string, string> | undefined;
    if (params?.tenantId !== undefined && params.tenantId !== result.tenantId)
      return sendError(reply, 'not_found');
    if (!result.scopes.has(access.scope)) {
      return sendError(
        reply.header(
          'www-authenticate',
          `Bearer realm="parley", error="insufficient_scope", scope="${access.scope}"`,
        ),
        'insufficient_scope',
      );
    }
    if (access.permission !== null && !result.permissions.has(access.permission))
      return sendError(reply, 'forbidden');
    request.principal = result;
    return undefined;
  });
}
