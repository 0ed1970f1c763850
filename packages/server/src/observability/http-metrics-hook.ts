import type { FastifyInstance } from 'fastify';
import type { ParleyMetrics } from './metrics.ts';

/** Methods a label may name; a client can send any token as a method. */
const knownMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Counts and times every HTTP response by method, route template and status class: the template
 * (`/v1/dialogs/:dialogId`), never the path, so ids never reach a label; requests no route matched share
 * `unmatched`. A 429 also counts as a rate-limit refusal (an account lock answers 429 too).
 */
export function meterHttp(fastify: FastifyInstance, metrics: Pick<ParleyMetrics, 'http' | 'security'>): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const method = knownMethods.has(request.method) ? request.method : 'OTHER';
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.http.observe(method, route, reply.statusCode, reply.elapsedTime / 1000);
    if (reply.statusCode === 429) metrics.security.rateLimited('http');
    done();
  });
}
