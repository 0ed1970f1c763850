import { profileBody, sessionListBody, updateProfileBody } from '@parley/protocol';
import { z } from 'zod';
import { AppError } from '../app-error.ts';
import { principalOf } from '../http/auth-hook.ts';
import { requestContext } from '../http/request-context.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { AccountService } from './account-service.ts';
import type { EmailFlowsService } from './email/email-flows-service.ts';
import type { ProfileService } from './profile-service.ts';
import type { SessionService } from './sessions/session-service.ts';

/** The caller's own account: profile, sessions (devices), password. */
export function meRoutes(deps: {
  profiles: ProfileService;
  sessions: SessionService;
  accounts: AccountService;
  emailFlows: Pick<EmailFlowsService, 'notify'>;
}): RouteDeclaration[] {
  const userOf = (principal: ReturnType<typeof principalOf>) => {
    if (principal.userId === null)
      throw new AppError('forbidden', 'This endpoint is for users, not API clients.');
    return { userId: principal.userId, sessionId: principal.sessionId };
  };
  return [
    {
      method: 'GET',
      url: '/v1/me',
      operationId: 'getMe',
      summary: 'The signed-in user’s profile.',
      tags: ['account'],
      access: { kind: 'authenticated', scope: 'profile', permission: 'profile.read' },
      schema: { response: { 200: profileBody } },
      handler: async (request) => {
        const principal = principalOf(request);
        const profile = await deps.profiles.getProfile(principal.tenantId, userOf(principal).userId);
        return { ...profile, permissions: [...principal.permissions].sort() };
      },
    },
    {
      method: 'PATCH',
      url: '/v1/me',
      operationId: 'updateMe',
      summary: 'Update display name, phone, avatar or custom data.',
      tags: ['account'],
      access: { kind: 'authenticated', scope: 'profile', permission: 'profile.update' },
      schema: { body: updateProfileBody, response: { 200: profileBody } },
      handler: async (request) => {
        const principal = principalOf(request);
        return deps.profiles.updateProfile(
          principal.tenantId,
          userOf(principal),
          updateProfileBody.parse(request.body),
          requestContext(request),
        );
      },
    },
    {
      method: 'GET',
      url: '/v1/me/sessions',
      operationId: 'listMySessions',
      summary: 'Signed-in devices.',
      tags: ['account'],
      access: { kind: 'authenticated', scope: 'profile', permission: 'sessions.manage' },
      schema: { response: { 200: sessionListBody } },
      handler: async (request) => {
        const principal = principalOf(request);
        const rows = await deps.sessions.listUserSessions(principal.tenantId, userOf(principal).userId);
        return {
          sessions: rows.map((row) => ({
            id: row.id,
            current: row.id === principal.sessionId,
            clientId: row.client_id,
            device: row.deviceInfo?.userAgent ?? null,
            scopes: row.scopes.split(' ').filter(Boolean),
            createdAt: new Date(row.created_at).toISOString(),
            lastUsedAt: new Date(row.last_used_at).toISOString(),
          })),
        };
      },
    },
    {
      method: 'DELETE',
      url: '/v1/me/sessions',
      operationId: 'endMySessions',
      summary: 'Sign out every device (or every other device with ?others=true).',
      tags: ['account'],
      access: { kind: 'authenticated', scope: 'profile', permission: 'sessions.manage' },
      schema: { querystring: z.object({ others: z.enum(['true', 'false']).optional() }).strict() },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { others } = request.query as { others?: string };
        await deps.sessions.revokeUserSessions(principal.tenantId, userOf(principal).userId, {
          reason: 'signed_out',
          ...(others === 'true' ? { except: principal.sessionId } : {}),
        });
        return reply.code(204).send();
      },
    },
    {
      method: 'DELETE',
      url: '/v1/me/sessions/:sessionId',
      operationId: 'endMySession',
      summary: 'Sign out one device.',
      tags: ['account'],
      access: { kind: 'authenticated', scope: 'profile', permission: 'sessions.manage' },
      schema: { params: z.object({ sessionId: z.string().max(64) }) },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { sessionId } = request.params as { sessionId: string };
        const revoked = await deps.sessions.revokeUserSessions(principal.tenantId, userOf(principal).userId, {
          only: sessionId,
          reason: 'signed_out',
        });
        if (revoked.length === 0) throw new AppError('not_found');
        return reply.code(204).send();
      },
    },
    {
      method: 'PUT',
      url: '/v1/me/password',
      operationId: 'changeMyPassword',
      summary: 'Change the password; every other session ends.',
      tags: ['account'],
      access: { kind: 'authenticated', scope: 'profile', permission: 'profile.update' },
      schema: {
        body: z
          .object({
            currentPassword: z.string().min(1).max(16_384),
            newPassword: z.string().min(1).max(16_384),
          })
          .strict(),
      },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { userId, sessionId } = userOf(principal);
        const body = request.body as { currentPassword: string; newPassword: string };
        const context = requestContext(request);
        await deps.accounts.changePassword(
          principal.tenantId,
          userId,
          sessionId,
          body.currentPassword,
          body.newPassword,
          context,
        );
        // Sent in the background: a relay failure is logged (kind only) and never fails the change.
        deps.emailFlows.notify(principal.tenantId, userId, 'password_changed', context);
        return reply.code(204).send();
      },
    },
  ];
}
