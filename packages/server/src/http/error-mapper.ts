import { errorCatalogue, type ErrorBody, type ErrorCode } from '@parley/protocol';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import FindMyWay from 'find-my-way';
import { AppError } from '../app-error.ts';
import { databaseUnavailableAnswer, DatabaseUnavailableError } from '../storage/database-unavailable.ts';
import type { RouteDeclaration } from './route-table.ts';

/** The /oauth/* endpoints answer errors as RFC 6749 §5.2 (and RFC 6750 for bearer problems) say. */
export const oauthErrorNames: Partial<Record<ErrorCode, string>> = {
  unauthorized: 'invalid_client',
  invalid_token: 'invalid_token',
  insufficient_scope: 'insufficient_scope',
  forbidden: 'unauthorized_client',
  internal_error: 'server_error',
  service_unavailable: 'temporarily_unavailable',
};

export function sendError(
  reply: FastifyReply,
  code: ErrorCode,
  message: string = errorCatalogue[code].message,
): FastifyReply {
  reply.code(errorCatalogue[code].status).type('application/json; charset=utf-8');
  if (reply.request.url.startsWith('/oauth/')) {
    return reply.send({ error: oauthErrorNames[code] ?? 'invalid_request', error_description: message });
  }
  const body: ErrorBody = { error: { code, message, requestId: reply.request.id } };
  return reply.send(body);
}

const fastifyCodeMap: Partial<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
};

const statusCodeMap: Partial<Record<number, ErrorCode>> = {
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

function validationMessage(error: FastifyError): string {
  if (!hasZodFastifySchemaValidationErrors(error)) return errorCatalogue.validation_failed.message;
  const problems = error.validation.slice(0, 5).map((issue) => {
    const where = [
      error.validationContext ?? 'body',
      issue.instancePath.replace(/^\//, '').replaceAll('/', '.'),
    ]
      .filter(Boolean)
      .join('.');
    return `${where}: ${issue.message}`;
  });
  return `Invalid request: ${problems.join('; ')}.`;
}

/** Maps any thrown error to the uniform body; only catalogued codes and safe messages reach a client. */
function mapError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof AppError) {
    reply.headers(error.headers);
    return sendError(reply, error.code, error.message === error.code ? undefined : error.message);
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    return sendError(reply, 'validation_failed', validationMessage(error));
  }
  if (error instanceof DatabaseUnavailableError) {
    request.log.warn({ err: error.cause }, 'no database connection in time: answered 503');
    reply.header('retry-after', String(databaseUnavailableAnswer.retryAfterSeconds));
    return sendError(reply, 'service_unavailable', databaseUnavailableAnswer.message);
  }
  const mapped = fastifyCodeMap[error.code];
  if (mapped) return sendError(reply, mapped);
  const status = error.statusCode ?? 500;
  if (status === 400 && error instanceof SyntaxError) return sendError(reply, 'malformed_json');
  if (status >= 400 && status < 500) return sendError(reply, statusCodeMap[status] ?? 'bad_request');
  request.log.error({ err: error }, 'unhandled error');
  return sendError(reply, 'internal_error');
}

/** Errors the router raises before any hook runs; anything else it raises is a plain bad request. */
const routerCodeMap: Partial<Record<string, ErrorCode>> = {
  FST_ERR_BAD_URL: 'bad_request',
  FST_ERR_MAX_PARAM_LENGTH: 'uri_too_long',
};

/**
 * Fastify's `frameworkErrors`: the router refused the URL (bad percent-encoding, a path parameter past
 * the length limit) before any onRequest hook ran, so the security headers are set here. Fastify's own
 * answer would echo the path and name the framework.
 */
export function routerErrorHandler(
  headers: Readonly<Record<string, string>>,
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, request, reply) => {
    reply.headers({ ...headers, 'x-request-id': request.id });
    sendError(reply, routerCodeMap[error.code] ?? 'bad_request');
  };
}

const probeMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * Installs the error handler and the not-found handler. A path that exists under another method answers
 * 405 with an `Allow` header instead of 404.
 */
export function installErrorHandling(fastify: FastifyInstance, routes: readonly RouteDeclaration[]): void {
  const router = FindMyWay({ ignoreTrailingSlash: false });
  for (const route of routes) {
    router.on(route.method, route.url, () => undefined);
    if (route.method === 'GET') router.on('HEAD', route.url, () => undefined);
  }
  fastify.setErrorHandler(mapError);
  fastify.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = probeMethods.filter((method) => router.find(method, path) !== null);
    if (allowed.length > 0) {
      return sendError(reply.header('allow', allowed.join(', ')), 'method_not_allowed');
    }
    return sendError(reply, 'route_not_found');
  });
}
