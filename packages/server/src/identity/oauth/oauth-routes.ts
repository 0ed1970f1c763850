import type { FastifyReply, FastifyRequest } from 'fastify';
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
  | 'mfa_code_reused';

export const MFA_GRANT = 'urn:parley:params:oauth:grant-type:mfa-otp';

const field = z.string().min(1).max(8192);
const tokenRequest = z.discriminatedUnion('grant_type', [
  z.object({
    grant_type: z.literal('password'),
    tenant_id: field,
    username: field,
    password: z.string().min(1).max(1_048_576),
    scope: z.string().max(200).optional(),
  }),
  z.object({
    grant_type: z.literal('refresh_token'),
    refresh_token: field,
    scope: z.string().max(200).optional(),
  }),
  z.object({
    grant_type: z.literal('client_credentials'),
    client_id: field.optional(),
    client_secret: field.optional(),
    scope: z.string().max(200).optional(),
  }),
  z.object({
    grant_type: z.literal(MFA_GRANT),
    mfa_token: field,
    otp: z.string().max(32).optional(),
    recovery_code: z.string().max(64).optional(),
  }),
]);

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
      return oauthError(reply, result.retryAfter === undefined ? 400 : 429, result.error, result.description);
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
      handler: async (request, reply) => {
        const parsed = tokenRequest.safeParse(formBody.safeParse(request.body).data ?? {});
        if (!parsed.success) {
          const grant = (request.body as Record<string, unknown> | undefined)?.grant_type;
          return typeof grant === 'string' &&
            !['password', 'refresh_token', 'client_credentials', MFA_GRANT].includes(grant)
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
