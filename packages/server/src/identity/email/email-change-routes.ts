import { emailChangeBody, emailChangeConfirmBody } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import { principalOf } from '../../http/auth-hook.ts';
import { requestContext } from '../../http/request-context.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { EmailChangeService } from './email-change-service.ts';

/** A user's correction of their own e-mail address, confirmed from the new address. */
export function emailChangeRoutes(deps: { emailChanges: EmailChangeService }): RouteDeclaration[] {
  return [
    {
      method: 'POST',
      url: '/v1/me/email',
      operationId: 'requestMyEmailChange',
      summary:
        'Change the signed-in user’s e-mail address (password required): a link goes to the new address, and the change takes effect once it is opened.',
      tags: ['account'],
      access: { kind: 'authenticated', scope: 'profile', permission: 'profile.update' },
      schema: { body: emailChangeBody },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        if (principal.userId === null)
          throw new AppError('forbidden', 'This endpoint is for users, not API clients.');
        await deps.emailChanges.requestChange(
          principal.tenantId,
          { userId: principal.userId, sessionId: principal.sessionId },
          emailChangeBody.parse(request.body),
          requestContext(request),
        );
        return reply.code(202).send();
      },
    },
    {
      method: 'POST',
      url: '/v1/email/change/confirm',
      operationId: 'confirmEmailChange',
      summary: 'Confirm an e-mail address change with the token mailed to the new address.',
      tags: ['account'],
      access: { kind: 'public' },
      schema: { body: emailChangeConfirmBody },
      handler: async (request, reply) => {
        const { token } = emailChangeConfirmBody.parse(request.body);
        await deps.emailChanges.confirmChange(token, requestContext(request));
        return reply.code(204).send();
      },
    },
  ];
}
