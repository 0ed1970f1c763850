import { z } from 'zod';
import { AppError } from '../../app-error.ts';
import { principalOf } from '../../http/auth-hook.ts';
import { requestContext } from '../../http/request-context.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { EmailFlowsService } from './email-flows-service.ts';

const tokenField = z.string().min(1).max(200);

const passwordResetRequest = z.object({ email: z.string().min(1).max(320) }).strict();
const passwordResetConfirm = z
  .object({ token: tokenField, newPassword: z.string().min(1).max(16_384) })
  .strict();
const emailVerifyConfirm = z.object({ token: tokenField }).strict();

const outboxMessage = z.object({
  id: z.string(),
  to: z.string(),
  subject: z.string(),
  text: z.string(),
  kind: z.string(),
  createdAt: z.string(),
});
const outboxBody = z.object({ messages: z.array(outboxMessage) });

/** Password reset, address verification and the embedded mail outbox. */
export function emailRoutes(deps: { emailFlows: EmailFlowsService }): RouteDeclaration[] {
  return [
    {
      method: 'POST',
      url: '/v1/tenants/:tenantId/password-reset',
      operationId: 'requestPasswordReset',
      summary:
        'Mail a password-reset link. Answers 202 at once, whether or not the address has an account; the work happens in the background.',
      tags: ['account'],
      access: { kind: 'public' },
      schema: { params: z.object({ tenantId: z.string().max(64) }), body: passwordResetRequest },
      handler: async (request, reply) => {
        const { tenantId } = request.params as { tenantId: string };
        const { email } = request.body as z.infer<typeof passwordResetRequest>;
        deps.emailFlows.requestPasswordReset(tenantId, email, requestContext(request));
        return reply.code(202).send();
      },
    },
    {
      method: 'POST',
      url: '/v1/password-reset/confirm',
      operationId: 'confirmPasswordReset',
      summary: 'Set a new password with a mailed reset token; every session of the account ends.',
      tags: ['account'],
      access: { kind: 'public' },
      schema: { body: passwordResetConfirm },
      handler: async (request, reply) => {
        const body = request.body as z.infer<typeof passwordResetConfirm>;
        await deps.emailFlows.confirmPasswordReset(body.token, body.newPassword, requestContext(request));
        return reply.code(204).send();
      },
    },
    {
      method: 'POST',
      url: '/v1/me/email/verification',
      operationId: 'requestEmailVerification',
      summary: 'Mail a link that confirms the signed-in user’s e-mail address.',
      tags: ['account'],
      access: { kind: 'authenticated', scope: 'profile', permission: 'profile.update' },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        if (principal.userId === null)
          throw new AppError('forbidden', 'This endpoint is for users, not API clients.');
        await deps.emailFlows.sendEmailVerification(
          principal.tenantId,
          principal.userId,
          requestContext(request),
        );
        return reply.code(202).send();
      },
    },
    {
      method: 'POST',
      url: '/v1/email/verify',
      operationId: 'verifyEmail',
      summary: 'Confirm an e-mail address with a mailed verification token.',
      tags: ['account'],
      access: { kind: 'public' },
      schema: { body: emailVerifyConfirm },
      handler: async (request, reply) => {
        const { token } = request.body as z.infer<typeof emailVerifyConfirm>;
        await deps.emailFlows.confirmEmailVerification(token, requestContext(request));
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: '/v1/admin/outbox',
      operationId: 'listOutbox',
      summary:
        'The embedded mail outbox (mail kept when no SMTP relay is configured), newest first. Owners only: it holds password-reset links.',
      tags: ['admin'],
      // tenant.manage (owners), not users.manage: an admin who could read an owner's reset link could
      // take over the owner's account, which admin-routes refuses them everywhere else.
      access: { kind: 'authenticated', scope: 'admin', permission: 'tenant.manage' },
      schema: {
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }).strict(),
        response: { 200: outboxBody },
      },
      handler: async (request) => {
        const principal = principalOf(request);
        const { limit } = request.query as { limit: number };
        const actor =
          principal.userId === null
            ? { type: 'client' as const, id: principal.clientId ?? undefined, sessionId: principal.sessionId }
            : { type: 'user' as const, id: principal.userId, sessionId: principal.sessionId };
        const messages = await deps.emailFlows.readOutbox(
          principal.tenantId,
          actor,
          limit,
          requestContext(request),
        );
        return {
          messages: messages.map((message) => ({
            id: message.id,
            to: message.to,
            subject: message.subject,
            text: message.text,
            kind: message.kind,
            createdAt: message.createdAt,
          })),
        };
      },
    },
  ];
}
