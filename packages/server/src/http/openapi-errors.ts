import { errorCatalogue, type ErrorCode } from '@parley/protocol';
import { oauthErrorNames } from './error-mapper.ts';
import type { RouteDeclaration } from './route-table.ts';

/**
 * Errors any request can meet, whatever its route: a missing Host (`bad_request`), a token in the query string,
 * decoded input no column can hold (the input guard runs on every route's path, query and body), a crash, and
 * a node draining for shutdown.
 */
const everyRequest: readonly ErrorCode[] = [
  'bad_request',
  'validation_failed',
  'token_in_query',
  'internal_error',
  'service_unavailable',
];
/**
 * Refusals a request can meet before it reaches any route (the router, the HTTP parser, the connection limits):
 * listed once for the whole document, under `x-parley-any-request-errors`.
 */
export const anyRequestErrors: readonly ErrorCode[] = [
  'route_not_found',
  'method_not_allowed',
  'request_timeout',
  'uri_too_long',
  'expectation_failed',
  'headers_too_large',
];

/** A request with a body Fastify parses (JSON, or a form on /oauth/*). */
const parsedBody: readonly ErrorCode[] = ['malformed_json', 'payload_too_large', 'unsupported_media_type'];
/** The auth hook's refusals: no token, a bad one, a missing scope, a missing permission (or a client token). */
const authenticated: readonly ErrorCode[] = [
  'unauthorized',
  'invalid_token',
  'insufficient_scope',
  'forbidden',
];

/** What a staff token under a support grant can meet on any tenant route (compliance/support-access/). */
const underSupportGrant: readonly ErrorCode[] = [
  'support_access_forbidden',
  'grant_not_approved',
  'grant_expired',
  'grant_revoked',
  'support_scope_exceeded',
  'self_approval',
];

/** Public routes that write into the tenant in their path: refused while it is closed. */
const tenantWrites = new Set(['signUp', 'setUpTenantOwner']);

/** Every coded error a route can answer: derived from its declaration, plus the ones its services throw. */
export function errorCodesOf(route: RouteDeclaration, thrown: readonly ErrorCode[] = []): ErrorCode[] {
  const codes = new Set<ErrorCode>(everyRequest);
  const add = (list: readonly ErrorCode[]) => {
    for (const code of list) codes.add(code);
  };
  // Fastify parses no body on GET; a streamed upload is read by its handler, under its own limit.
  if (route.method !== 'GET' && route.streamsBody !== true) add(parsedBody);
  if (route.access.kind === 'authenticated') {
    add(authenticated);
    add(underSupportGrant);
  }
  // A platform route refuses a tenant token as if it did not exist, and a tenant route a staff token
  // (http/auth-hook.ts).
  if (route.access.kind === 'platform') add(authenticated.filter((code) => code !== 'insufficient_scope'));
  if (route.access.kind !== 'public') codes.add('not_found');
  // A closed tenant is read-only (http/tenant-closed-hook.ts); one being purged, or purged, answers nothing.
  if (route.access.kind === 'authenticated' || tenantWrites.has(route.operationId)) {
    if (route.method !== 'GET') codes.add('tenant_closed');
    codes.add('tenant_purged');
  }
  // A user who owes consent holds a token that acts as `profile` only: every other route refuses them.
  if (route.access.kind === 'authenticated' && route.access.scope !== 'profile')
    codes.add('consent_required');
  // A resource named in the path that does not exist, or is not the caller's to see, is 404.
  if (route.url.includes(':')) codes.add('not_found');
  add(thrown);
  const order = Object.keys(errorCatalogue);
  return [...codes].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

interface ErrorResponse {
  description: string;
  content: Record<string, { schema: { $ref: string } }>;
  /** The codes this status stands for, for tools (and the docs-sync test). */
  'x-parley-error-codes': ErrorCode[];
}

const list = (names: readonly string[]) => names.map((name) => `\`${name}\``).join(', ');

/**
 * The error answers of one operation by status. Most endpoints answer `{ error: { code, message, requestId } }`
 * (the `Error` schema); the /oauth/* endpoints answer as RFC 6749 §5.2 says (`OAuthError`), with the codes mapped
 * as the error mapper maps them.
 */
export function errorResponses(
  route: RouteDeclaration,
  codes: readonly ErrorCode[],
): Record<string, ErrorResponse> {
  const oauth = route.url.startsWith('/oauth/');
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = errorCatalogue[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, ErrorResponse> = {};
  for (const [status, statusCodes] of byStatus) {
    const names = oauth
      ? [...new Set(statusCodes.map((code) => oauthErrorNames[code] ?? 'invalid_request'))]
      : statusCodes;
    responses[String(status)] = {
      description: oauth ? `RFC 6749 §5.2 error: ${list(names)}.` : `Error: ${list(names)}.`,
      content: {
        'application/json': { schema: { $ref: `#/components/schemas/${oauth ? 'OAuthError' : 'Error'}` } },
      },
      'x-parley-error-codes': statusCodes,
    };
  }
  return responses;
}
