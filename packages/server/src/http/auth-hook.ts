import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorCatalogue, type Permission, type StaffRole } from '@parley/protocol';
import type { AuthFailure, Principal, SessionService } from '../identity/sessions/session-service.ts';
import type { StaffPrincipal } from '../platform/staff-service.ts';
import { tokenPrefixes } from '../crypto/token.ts';
import { AppError } from '../app-error.ts';
import type { SupportGrantService } from '../compliance/support-access/support-grant-service.ts';
import { requestContext } from './request-context.ts';
import { sendError } from './error-mapper.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every authenticated route. */
    principal?: Principal;
    /** Set by the auth hook on every platform route: the staff member calling. */
    staff?: StaffPrincipal;
  }
}

/** Resolves staff tokens (platform/staff-service.ts). */
export interface StaffAuthenticator {
  authenticate(token: string): Promise<StaffPrincipal | Exclude<AuthFailure, 'idle'>>;
}

/** Turns a staff request under a support grant into a tenant principal, or throws a coded refusal. */
export type SupportGrantAuthorizer = Pick<SupportGrantService, 'authorize'>;

/** The header naming the support access grant a staff request acts under (compliance/support-access/). */
export const SUPPORT_GRANT_HEADER = 'parley-support-grant';
const grantIdPattern = /^[0-9a-f-]{36}$/;

/** The staff member calling a platform route; the auth hook guarantees it exists there. */
export function staffOf(request: FastifyRequest): StaffPrincipal {
  if (!request.staff) throw new Error('route is not declared platform');
  return request.staff;
}

/** The principal of an authenticated route; the auth hook guarantees it exists there. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route is not declared authenticated');
  return request.principal;
}

const bearerPattern = /^Bearer ([A-Za-z0-9_-]{20,200})$/;

/**
 * RFC 6750 §3 challenges. A request without a bearer token gets the bare challenge (§3.1: no error code when
 * the request lacks authentication); a token that fails gets `invalid_token` with a description the client
 * can act on (refresh after "expired", sign in again otherwise). Only the holder of the token learns which:
 * the token already proves they had it.
 */
const BARE_CHALLENGE = 'Bearer realm="parley"';
const tokenProblems: Record<AuthFailure | 'malformed', string> = {
  malformed: 'The access token is malformed.',
  invalid: 'The access token is not valid.',
  expired: 'The access token expired.',
  revoked: 'The access token was revoked.',
  idle: 'The session ended after a period of inactivity.',
};
const invalidTokenChallenge = (problem: AuthFailure | 'malformed') =>
  `${BARE_CHALLENGE}, error="invalid_token", error_description="${tokenProblems[problem]}"`;
/** 401 `invalid_token`, the challenge and the body saying the same. */
const refuseToken = (reply: FastifyReply, problem: AuthFailure | 'malformed') =>
  sendError(
    reply.header('www-authenticate', invalidTokenChallenge(problem)),
    'invalid_token',
    tokenProblems[problem],
  );
const insufficientScopeChallenge = (scope: string) =>
  `${BARE_CHALLENGE}, error="insufficient_scope", error_description="${errorCatalogue.insufficient_scope.message}", scope="${scope}"`;

/**
 * Enforces each route's declared access before the body is even read: bearer token → principal → scope →
 * permission; a tenant id in the path that is not the caller's tenant answers 404, as if it did not exist.
 * Staff tokens and tenant tokens never cross: a staff token on a tenant route, or a tenant token on a
 * platform route, answers 404 before the token is even looked up.
 */
export function installAuthHook(
  fastify: FastifyInstance,
  sessions: SessionService,
  staff: StaffAuthenticator,
  grants: SupportGrantAuthorizer,
): void {
  /**
   * A staff token on a tenant route: 404 unless it names a support grant of that staff member, which then
   * decides (status, expiry, tenant policy, scope) and records the request in the tenant's audit chain.
   */
  async function underGrant(
    request: FastifyRequest,
    reply: FastifyReply,
    token: string,
    permission: Permission | null,
  ): Promise<Principal | FastifyReply> {
    const grantId = request.headers[SUPPORT_GRANT_HEADER];
    if (typeof grantId !== 'string' || !grantIdPattern.test(grantId)) return sendError(reply, 'not_found');
    const caller = await staff.authenticate(token);
    if (typeof caller === 'string') return refuseToken(reply, caller);
    try {
      return await grants.authorize(caller, grantId, {
        operationId: request.routeOptions.schema?.operationId ?? '',
        method: request.method,
        path: request.url.split('?')[0] ?? '',
        dialogId: (request.params as Record<string, string> | undefined)?.dialogId,
        decidesSupportAccess: permission === 'support_access.manage',
        context: requestContext(request),
      });
    } catch (error) {
      if (error instanceof AppError) return sendError(reply, error.code);
      throw error;
    }
  }

  /** A platform route: a staff session of one of the route's roles. */
  async function admitStaff(
    request: FastifyRequest,
    reply: FastifyReply,
    token: string,
    roles: readonly StaffRole[],
  ): Promise<FastifyReply | undefined> {
    const caller = await staff.authenticate(token);
    if (typeof caller === 'string') return refuseToken(reply, caller);
    if (!roles.includes(caller.role)) return sendError(reply, 'forbidden');
    request.staff = caller;
    return undefined;
  }

  async function tenantSession(reply: FastifyReply, token: string): Promise<Principal | FastifyReply> {
    const resolved = await sessions.authenticate(token);
    return typeof resolved === 'string' ? refuseToken(reply, resolved) : resolved;
  }

  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // Tokens in URLs end up in logs, proxies and browser history: refused everywhere, even on public routes.
    const query = request.url.indexOf('?');
    if (query !== -1 && /(^|&)(access_token|token)=/.test(request.url.slice(query + 1))) {
      return sendError(reply, 'token_in_query');
    }
    const access = request.routeOptions.config.access;
    if (access === undefined || access.kind === 'public') return undefined;
    const authorization = request.headers.authorization ?? '';
    if (!/^Bearer(\s|$)/i.test(authorization)) {
      return sendError(reply.header('www-authenticate', BARE_CHALLENGE), 'unauthorized');
    }
    const match = bearerPattern.exec(authorization);
    if (!match?.[1]) {
      return refuseToken(reply, 'malformed');
    }
    const token = match[1];
    const staffToken = token.startsWith(tokenPrefixes.staff);
    if (access.kind === 'platform')
      return staffToken ? admitStaff(request, reply, token, access.roles) : sendError(reply, 'not_found');
    const result = staffToken
      ? await underGrant(request, reply, token, access.permission)
      : await tenantSession(reply, token);
    // A refusal was sent already.
    if (!isPrincipal(result)) return result;
    const params = request.params as Record<string, string> | undefined;
    if (params?.tenantId !== undefined && params.tenantId !== result.tenantId)
      return sendError(reply, 'not_found');
    if (!result.scopes.has(access.scope)) {
      // Not a token problem: the user must accept what changed (GET /v1/me/consents), then this works.
      if (result.consentRequired) return sendError(reply, 'consent_required');
      return sendError(
        reply.header('www-authenticate', insufficientScopeChallenge(access.scope)),
        'insufficient_scope',
      );
    }
    if (access.permission !== null && !result.permissions.has(access.permission))
      return sendError(reply, 'forbidden');
    request.principal = result;
    return undefined;
  });
}

const isPrincipal = (value: Principal | FastifyReply): value is Principal => 'permissions' in value;
