import type { FastifyInstance } from 'fastify';

/**
 * Headers every API response carries. HSTS only when Parley terminates TLS itself or sits behind a
 * proxy that does (browsers ignore it over plain HTTP anyway).
 */
export function installSecurityHeaders(fastify: FastifyInstance, hstsMaxAgeSeconds: number): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers({
      'strict-transport-security': `max-age=${hstsMaxAgeSeconds}; includeSubDomains`,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      'x-request-id': request.id,
    });
    done();
  });
}
