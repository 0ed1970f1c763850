import type { FastifyInstance } from 'fastify';

/**
 * Headers every API response carries, our error answers included (also those written before any hook runs,
 * see error-mapper and parser-error-responder). HSTS only matters when Parley terminates TLS itself
 * or sits behind a proxy that does (browsers ignore it over plain HTTP anyway).
 */
export function securityHeaders(hstsMaxAgeSeconds: number): Readonly<Record<string, string>> {
  return Object.freeze({
    'strict-transport-security': `max-age=${hstsMaxAgeSeconds}; includeSubDomains`,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
}

/** Sets the security headers and the request id on every response; installed as the first onRequest hook. */
export function installSecurityHeaders(fastify: FastifyInstance, hstsMaxAgeSeconds: number): void {
  const headers = securityHeaders(hstsMaxAgeSeconds);
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers({ ...headers, 'x-request-id': request.id });
    done();
  });
}
