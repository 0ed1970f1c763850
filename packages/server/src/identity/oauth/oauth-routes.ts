import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  grantTypes,
  introspectionResponse,
  introspectRequest,
  MFA_GRANT,
  mfaRequired,
  oauthError as oauthErrorBody,
  revokeRequest,
  tokenRequest,
  tokenResponse as tokenResponseBody,
  type OAuthErrorBody,
  type TokenResponse,
} from '@parley/protocol';
import { z } from 'zod';
import type { RequestContext } from '../../compliance/audit/request-context.ts';
import { requestContext } from '../../http/request-context.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { ClientService } from './client-service.ts';
import type { CredentialService, GrantResult } from './credential-service.ts';
import type { EmailFlowsService } from '../email/email-flows-service.ts';
import { parseScopes, type SessionService } from '../sessions/session-service.ts';

/**
 * RFC 6749 §5.2 error codes, plus our extensions: the `mfa_required` step (as API.md fixes it) and
 * `mfa_code_reused` for a TOTP code already used (wait for the next one).
 */
type OAuthError =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'mfa_required'
  | 'mfa_code_reused'
  | 'account_restricted';

/** Kept for importers of the grant's URI from here; the protocol package defines it. */
export { MFA_GRANT };

type Holds<Check extends true> = Check;
/** Compile-time: every notice and error a grant answers is in the documented `TokenResponse` and `OAuthError`. */
export type GrantOutcomesDocumented = Holds<
  NonNullable<Extract<GrantResult, { kind: 'tokens' }>['notice']> extends TokenResponse['parley_notice']
    ? Extract<GrantResult, { kind: 'error' }>['error'] extends OAuthErrorBody['error']
      ? true
      : false
    : false
>;

function oauthError(reply: FastifyReply, status: number, error: OAuthError, description: string, extra = {}) {
  return reply
    .code(status)
    .header('pragma', 'no-cache')
    .type('application/json; charset=utf-8')
    .send({ error, error_description: description, ...extra });
}

function tokenResponse(reply: FastifyReply, result: GrantResult) {
  switch (result.kind) {
    case 'tokens':
      return reply.header('pragma', 'no-cache').send({
        access_token: result.tokens.accessToken,
        token_type: 'Bearer',
        expires_in: result.tokens.expiresIn,
        ...(result.tokens.refreshToken === undefined ? {} : { refresh_token: result.tokens.refreshToken }),
        scope: result.tokens.scope,
        ...(result.notice === undefined ? {} : { parley_notice: result.notice }),
      });
    case 'mfa_required':
      return oauthError(reply, 403, 'mfa_required', 'A second factor is required.', {
        mfa_token: result.mfaToken,
        expires_in: result.expiresIn,
      });
    case 'error':
      if (result.retryAfter !== undefined) reply.header('retry-after', String(result.retryAfter));
      return oauthError(
        reply,
        result.error === 'account_restricted' ? 403 : result.retryAfter === undefined ? 400 : 429,
        result.error,
        result.description,
      );
  }
}

/** Client credentials from HTTP Basic (preferred by RFC 6749 §2.3.1) or the form body. */
function clientCredentials(request: FastifyRequest, body: { client_id?: string; client_secret?: string }) {
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(request.headers.authorization ?? '');
  if (basic?.[1]) {
    const [id, secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':', 2);
    try {
      return { id: decodeURIComponent(id ?? ''), secret: decodeURIComponent(secret ?? '') };
    } catch {
      // A malformed %-escape is a client that failed to authenticate, not a server error.
      return { id: '', secret: '' };
    }
  }
  return { id: body.client_id ?? '', secret: body.client_secret ?? '' };
}

const formBody = z.record(z.string(), z.string());

export function oauthRoutes(deps: {
  credentials: CredentialService;
  sessions: SessionService;
  clients: ClientService;
  emailFlows: Pick<EmailFlowsService, 'notify'>;
}): RouteDeclaration[] {
  /** A successful interactive sign-in earns its user a notice; it is sent in the background. */
  const noticeOfSignIn = (result: GrantResult, context: RequestContext): GrantResult => {
    if (result.kind === 'tokens' && result.signedIn)
      deps.emailFlows.notify(result.signedIn.tenantId, result.signedIn.userId, 'new_sign_in', context);
    return result;
  };
  return [
    {
      method: 'POST',
      url: '/oauth/token',
      operationId: 'requestToken',
      summary: 'OAuth 2.0 token endpoint: password, refresh_token, client_credentials and the MFA step.',
      tags: ['oauth'],
      access: { kind: 'public' },
      consumes: 'application/x-www-form-urlencoded',
      documentation: {
        body: tokenRequest,
        responses: {
          200: { description: 'Tokens issued (RFC 6749 §5.1).', schema: tokenResponseBody },
          400: {
            description:
              'RFC 6749 §5.2: `invalid_request`, `unsupported_grant_type`, `invalid_grant` (wrong credentials, an expired or reused refresh token, a wrong MFA code), `invalid_scope`, or `mfa_code_reused` (a TOTP code already used: wait for the next one).',
            schema: oauthErrorBody,
          },
          401: {
            description:
              '`invalid_client`: client authentication failed (with a `WWW-Authenticate: Basic` challenge).',
            schema: oauthErrorBody,
          },
          403: {
            description:
              '`mfa_required`: the password was right and the user has MFA; send the `mfa_token` with a code in the MFA grant. `account_restricted`: the password was right but processing of the account is restricted (GDPR Art. 18).',
            schema: z.union([mfaRequired, oauthErrorBody]),
          },
          429: {
            description:
              '`invalid_grant` while the account or the address is locked out after failed attempts, with `Retry-After`.',
            schema: oauthErrorBody,
          },
        },
      },
      handler: async (request, reply) => {
        const parsed = tokenRequest.safeParse(formBody.safeParse(request.body).data ?? {});
        if (!parsed.success) {
          const grant = (request.body as Record<string, unknown> | undefined)?.grant_type;
          return typeof grant === 'string' && !grantTypes.some((type) => type === grant)
            ? oauthError(reply, 400, 'unsupported_grant_type', 'This grant type is not supported.')
            : oauthError(
                reply,
                400,
                'invalid_request',
                `Invalid request: ${parsed.error.issues[0]?.path.join('.') ?? 'body'}.`,
              );
        }
        const body = parsed.data;
        const context = requestContext(request);
        switch (body.grant_type) {
          case 'password':
            return tokenResponse(
              reply,
              noticeOfSignIn(
                await deps.credentials.passwordGrant({
                  tenantId: body.tenant_id,
                  username: body.username,
                  password: body.password,
                  scope: body.scope,
                  context,
                }),
                context,
              ),
            );
          case MFA_GRANT:
            return tokenResponse(
              reply,
              noticeOfSignIn(
                await deps.credentials.mfaGrant({
                  mfaToken: body.mfa_token,
                  otp: body.otp,
                  recoveryCode: body.recovery_code,
                  context,
                }),
                context,
              ),
            );
          case 'refresh_token': {
            const result = await deps.sessions.refresh(
              body.refresh_token,
              body.scope === undefined ? undefined : parseScopes(body.scope),
            );
            if (typeof result === 'string') {
              return oauthError(
                reply,
                400,
                'invalid_grant',
                result === 'reused'
                  ? 'Refresh token reuse detected; the session was revoked.'
                  : 'The refresh token is invalid or expired.',
              );
            }
            return tokenResponse(reply, {
              kind: 'tokens',
              tokens: result,
              ...(result.notice === undefined ? {} : { notice: result.notice }),
            });
          }
          case 'client_credentials': {
            const { id, secret } = clientCredentials(request, body);
            const result = await deps.clients.grant(id, secret, body.scope, context);
            if (result === 'invalid_client') {
              return oauthError(
                reply.header('www-authenticate', 'Basic realm="parley"'),
                401,
                'invalid_client',
                'Client authentication failed.',
              );
            }
            if (result === 'invalid_scope')
              return oauthError(reply, 400, 'invalid_scope', 'The client may not request this scope.');
            return tokenResponse(reply, { kind: 'tokens', tokens: result });
          }
        }
      },
    },
    {
      method: 'POST',
      url: '/oauth/revoke',
      operationId: 'revokeToken',
      summary: 'RFC 7009 token revocation: ends the session behind an access or refresh token.',
      tags: ['oauth'],
      access: { kind: 'public' },
      consumes: 'application/x-www-form-urlencoded',
      documentation: {
        body: revokeRequest,
        responses: {
          200: {
            description: 'Revoked, or the token was unknown or already invalid (RFC 7009 §2.2).',
            schema: z.object({}).strict(),
          },
          400: { description: '`invalid_request`: no `token`.', schema: oauthErrorBody },
        },
      },
      handler: async (request, reply) => {
        const token = formBody.safeParse(request.body).data?.token;
        if (!token) return oauthError(reply, 400, 'invalid_request', 'The token parameter is required.');
        // RFC 7009 §2.2: an unknown or already invalid token is not an error.
        await deps.sessions.revokeToken(token);
        return reply.code(200).send({});
      },
    },
    {
      method: 'POST',
      url: '/oauth/introspect',
      operationId: 'introspectToken',
      summary: "RFC 7662 token introspection, for the tenant's own servers (scope admin).",
      tags: ['oauth'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.read' },
      consumes: 'application/x-www-form-urlencoded',
      documentation: {
        body: introspectRequest,
        responses: {
          200: { description: 'The token’s state (RFC 7662 §2.2).', schema: introspectionResponse },
          400: { description: '`invalid_request`: no `token`.', schema: oauthErrorBody },
        },
      },
      handler: async (request, reply) => {
        const token = formBody.safeParse(request.body).data?.token;
        if (!token) return oauthError(reply, 400, 'invalid_request', 'The token parameter is required.');
        const caller = request.principal;
        const session = caller ? await deps.sessions.inspect(token, caller.tenantId) : undefined;
        if (!session || !caller) return reply.send({ active: false });
        return reply.send({
          active: true,
          scope: session.scope,
          client_id: session.clientId ?? undefined,
          sub: session.userId ?? undefined,
          token_type: 'Bearer',
          exp: Math.floor(session.expiresAt / 1000),
          parley_tenant_id: caller.tenantId,
          parley_session_id: session.sessionId,
        });
      },
    },
  ];
}
