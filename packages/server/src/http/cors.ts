import fastifyCors from '@fastify/cors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../app-error.ts';

/** Which browser apps on other origins may call the API (`PARLEY_CORS_*`). */
export interface CorsPolicy {
  /** Exact origins (`https://app.example.com`), or `['*']` for any; empty = CORS off. */
  origins: readonly string[];
  /** Send `Access-Control-Allow-Credentials: true`; never together with `*` (the config refuses it). */
  credentials: boolean;
  /** How long a browser may cache a preflight answer (`Access-Control-Max-Age`). */
  maxAgeSeconds: number;
}

/** Methods the API serves (HEAD comes with GET). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** Request headers the API reads beyond the CORS-safelisted ones. */
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'X-Request-Id', 'traceparent', 'Range', 'If-Range'];
/** Response headers a browser app may read beyond the safelisted ones. */
const EXPOSED_HEADERS = [
  'X-Request-Id',
  'Retry-After',
  'WWW-Authenticate',
  'Allow',
  'ETag',
  'Content-Range',
  'Content-Disposition',
];

/** A CORS preflight (Fetch §4.8): OPTIONS with `Origin` and `Access-Control-Request-Method`. */
function isPreflight(request: FastifyRequest): boolean {
  return (
    request.method === 'OPTIONS' &&
    request.headers.origin !== undefined &&
    request.headers['access-control-request-method'] !== undefined
  );
}

/**
 * CORS for browser apps on the listed origins, through `@fastify/cors`. Installed as an onRequest hook after
 * the security headers and before authentication: a preflight carries no token and must not need one.
 *
 * - An allowed origin's preflight answers 204 with the methods, headers and max-age; its requests get
 *   `Access-Control-Allow-Origin` (its own origin, or `*`) and the exposed headers.
 * - Any other origin gets no CORS header at all, so the browser withholds the answer; its preflight is
 *   refused here with 403 in our error shape (rather than the 405 a bare OPTIONS gets).
 * - An OPTIONS that is not a preflight is left to the router: 405 with `Allow`, or 404.
 */
export async function installCors(fastify: FastifyInstance, policy: CorsPolicy): Promise<void> {
  const anyOrigin = policy.origins.includes('*');
  const allowed = new Set(policy.origins);
  const allows = (origin: string | undefined): origin is string =>
    origin !== undefined && (anyOrigin || allowed.has(origin));
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (isPreflight(request) && !allows(request.headers.origin)) {
      done(new AppError('forbidden', 'Cross-origin requests from this origin are not allowed.'));
      return;
    }
    done();
  });
  if (policy.origins.length === 0) return;
  await fastify.register(fastifyCors, {
    // Per request: a non-preflight OPTIONS must reach the router (not the plugin's 204 or its text/plain 400).
    delegator: (request, callback) => {
      const { origin } = request.headers;
      const cors = allows(origin) && (request.method !== 'OPTIONS' || isPreflight(request));
      callback(null, {
        origin: cors ? (anyOrigin ? '*' : origin) : false,
        methods: METHODS,
        allowedHeaders: ALLOWED_HEADERS,
        exposedHeaders: EXPOSED_HEADERS,
        credentials: policy.credentials,
        maxAge: policy.maxAgeSeconds,
        strictPreflight: true,
      });
    },
  });
}
