import formBody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import { AppError } from '../app-error.ts';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from '../observability/logger.ts';
import { type ConnectionLimits, installConnectionLimits } from './connection-limits.ts';
import { consoleDistDir, installConsole } from './console-static.ts';
import { type CorsPolicy, installCors } from './cors.ts';
import { installErrorHandling, routerErrorHandler } from './error-mapper.ts';
import { lacksRequiredHost } from './host-header.ts';
import { installInputGuard } from './input-guard.ts';
import { installOpenApi } from './openapi.ts';
import { type RouteDeclaration, registerRoutes } from './route-table.ts';
import { createParserErrorResponder } from './parser-error-responder.ts';
import { requestIdFrom } from './request-id.ts';
import { installSecurityHeaders, securityHeaders } from './security-headers.ts';
import { type TlsFiles, tlsContextOptions } from './tls-options.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every declared route, for the route-walk security test and tooling. */
    routeDeclarations: readonly RouteDeclaration[];
  }
}

export interface HttpServerOptions {
  logger: Logger;
  /** Unset = plain HTTP, allowed only for `PARLEY_TLS_MODE=behind-proxy`. */
  tls: TlsFiles | undefined;
  trustProxy: string;
  bodyLimitBytes: number;
  hstsMaxAgeSeconds: number;
  /** Connection caps and timeouts (slow headers, idle and half-open connections). */
  connectionLimits: ConnectionLimits;
  /** Browser apps on other origins allowed to call the API (none by default). */
  cors: CorsPolicy;
  routes: (openApiDocument: () => unknown) => readonly RouteDeclaration[];
  /** Cross-cutting hooks that need services (authentication), installed before the routes. */
  installHooks?: (fastify: FastifyInstance) => void;
  /** True once shutdown began: requests still reaching the router are refused with 503. */
  draining: () => boolean;
}

function trustProxySetting(value: string): string | string[] {
  return value === 'loopback' ? 'loopback' : value.split(',').map((entry) => entry.trim());
}

/**
 * An HTTP/1.1 request without Host is refused (RFC 9112 §3.2: 400), in our shape with our headers, and the
 * connection closed. Node would refuse it itself (`requireHostHeader`, turned off above) with a bare 400: no
 * body, no security headers, no request id.
 */
function refuseMissingHost(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (lacksRequiredHost(request.raw)) {
      reply.header('connection', 'close');
      done(new AppError('bad_request'));
      return;
    }
    done();
  });
}

/**
 * While the node drains for shutdown, a request that still reaches the router (its headers were arriving as
 * the drain began) is refused with our 503, so the client retries elsewhere. Fastify's own 503 there has
 * neither our body nor our security headers, so `return503OnClosing` is off and this hook does its work.
 * The drain is the app's flag, set before the listener closes (a Fastify `preClose` hook would delay that).
 */
function refuseWhileDraining(fastify: FastifyInstance, draining: () => boolean): void {
  fastify.addHook('onRequest', (_request, reply, done) => {
    if (draining()) {
      reply.header('connection', 'close');
      done(new AppError('service_unavailable'));
      return;
    }
    done();
  });
}

export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  // Errors raised before any hook runs answer in our shape with our headers, never Fastify's defaults.
  const headers = securityHeaders(options.hstsMaxAgeSeconds);
  const parserErrors = createParserErrorResponder(options.logger, headers);
  const fastify = Fastify({
    loggerInstance: options.logger,
    ...(options.tls
      ? {
          https: {
            ...tlsContextOptions(options.tls),
            handshakeTimeout: options.connectionLimits.tlsHandshakeTimeoutMs,
            requireHostHeader: false,
          },
        }
      : { http: { requireHostHeader: false } }),
    trustProxy: options.tls ? false : trustProxySetting(options.trustProxy),
    bodyLimit: options.bodyLimitBytes,
    // The caller's X-Request-Id (or traceparent trace id) when well-formed, else a fresh one.
    genReqId: (request) => requestIdFrom(request.headers),
    // Keep-alive sockets that sit idle are closed at shutdown; busy ones are drained.
    forceCloseConnections: 'idle',
    return503OnClosing: false, // refuseWhileDraining answers instead, in our shape
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    frameworkErrors: routerErrorHandler(headers),
    clientErrorHandler: parserErrors.onClientError,
  }) as unknown as FastifyInstance;
  parserErrors.watch(fastify.server);
  installConnectionLimits(fastify.server, options.connectionLimits, options.logger);
  // First hook, so that errors raised by any later onRequest hook carry the headers too.
  installSecurityHeaders(fastify, options.hstsMaxAgeSeconds);
  refuseMissingHost(fastify);
  refuseWhileDraining(fastify, options.draining);
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);
  // JSON everywhere, forms for the OAuth endpoints (RFC 6749 says so); anything else is 415.
  fastify.removeContentTypeParser('text/plain');
  await fastify.register(formBody, { bodyLimit: options.bodyLimitBytes });
  fastify.addHook('preValidation', (request, _reply, done) => {
    if (request.routeOptions.config.streamsBody === true) {
      done(); // Raw uploads: any content type (see RouteDeclaration.streamsBody).
      return;
    }
    const type = request.headers['content-type'] ?? '';
    const wantsForm = request.url.startsWith('/oauth/');
    if (request.body !== undefined && wantsForm !== type.startsWith('application/x-www-form-urlencoded')) {
      done(new AppError('unsupported_media_type'));
      return;
    }
    done();
  });
  installInputGuard(fastify);
  await installOpenApi(fastify);
  const routes = options.routes(() => fastify.swagger());
  // Before any route is added (the CORS plugin adds OPTIONS *): a route keeps the error handler it was added under.
  installErrorHandling(fastify, routes);
  // Before authentication: a preflight carries no token.
  await installCors(fastify, options.cors);
  options.installHooks?.(fastify);
  registerRoutes(fastify, routes);
  // The web console at /console/ (docs/console.md), wherever its package is installed.
  const consoleDir = consoleDistDir();
  if (consoleDir !== undefined) installConsole(fastify, consoleDir);
  fastify.decorate('routeDeclarations', routes);
  return fastify;
}
