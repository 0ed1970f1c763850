import type { FastifyInstance, FastifyRequest } from 'fastify';
import { traceparentFrom } from './traceparent.ts';
import type { RequestSpan, Tracing } from './tracing.ts';

/**
 * One span per HTTP request, opened in `onRequest` and ended in `onResponse` (or when the client gave up).
 * The rest of the hook chain and the handler run inside it, so the transactions they open are its
 * children; the request's body is read through events, which are bound to it too. Tracing off: no hook
 * is added at all.
 *
 * Installed before the auth hook (its session lookup is part of the request's trace), after the hooks that
 * refuse a request before any work (missing Host, draining).
 */
export function traceHttp(
  fastify: FastifyInstance,
  tracing: Pick<Tracing, 'enabled' | 'startRequest'>,
): void {
  if (!tracing.enabled) return;
  const spans = new WeakMap<FastifyRequest, RequestSpan>();
  const end = (request: FastifyRequest, statusCode: number) => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    span.end({ route: request.routeOptions.url, statusCode, requestId: request.id });
  };
  fastify.addHook('onRequest', (request, reply, done) => {
    const span = tracing.startRequest(request.method, traceparentFrom(request.headers));
    spans.set(request, span);
    span.bind(request.raw);
    span.bind(reply.raw);
    span.run(() => {
      done();
    });
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    end(request, reply.statusCode);
    done();
  });
  // The client went away before an answer: the span ends with the status Node would have logged (499 is
  // nginx's name for it; no response was sent).
  fastify.addHook('onRequestAbort', (request, done) => {
    end(request, 499);
    done();
  });
}
