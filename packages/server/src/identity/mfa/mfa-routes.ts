import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../app-error.ts';
import { principalOf } from '../../http/auth-hook.ts';
import { requestContext } from '../../http/request-context.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { EmailFlowsService } from '../email/email-flows-service.ts';
import type { MfaService } from './mfa-service.ts';

const totpCode = z.string().regex(/^[0-9]{6}$/, 'must be a 6-digit code');
const recoveryCode = z.string().min(1).max(64);

const enrollmentBody = z.object({ otpauthUri: z.string(), qrSvg: z.string() });
const confirmBody = z.object({ code: totpCode }).strict();
const recoveryCodesBody = z.object({ recoveryCodes: z.array(z.string()) });
const disableBody = z
  .object({
    password: z.string().min(1).max(16_384),
    code: totpCode.optional(),
    recoveryCode: recoveryCode.optional(),
  })
  .strict()
  .refine((body) => (body.code === undefined) !== (body.recoveryCode === undefined), {
    message: 'give exactly one of code and recoveryCode',
  });
const userParams = z.object({ userId: z.string().min(1).max(64) }).strict();

/** TOTP second factor: the caller's own enrolment and removal, and the admin reset. */
export function mfaRoutes(deps: {
  mfa: MfaService;
  emailFlows: Pick<EmailFlowsService, 'notify'>;
}): RouteDeclaration[] {
  const actorOf = (principal: ReturnType<typeof principalOf>) => {
    if (principal.userId === null)
      throw new AppError('forbidden', 'This endpoint is for users, not API clients.');
    return { userId: principal.userId, sessionId: principal.sessionId };
  };
  /** A security notice to the account's owner, in the background: a hijacked session is seen. */
  const notifyMfaChanged = (request: FastifyRequest, tenantId: string, userId: string) => {
    deps.emailFlows.notify(tenantId, userId, 'mfa_changed', requestContext(request));
  };
  return [
    {
      method: 'POST',
      url: '/v1/me/mfa/totp',
      operationId: 'enrollTotp',
      summary: 'Start TOTP enrolment: the otpauth:// URI and its QR code. MFA is on only after confirming.',
      tags: ['account'],
      access: { kind: 'authenticated', scope: 'profile', permission: 'profile.update' },
      schema: {
        body: z.object({ password: z.string().min(1).max(16_384) }).strict(),
        response: { 201: enrollmentBody },
      },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const enrollment = await deps.mfa.beginEnrollment(
          principal.tenantId,
          actorOf(principal),
          (request.body as { password: string }).password,
          requestContext(request),
        );
        // The bare secret is inside the URI already; it is not repeated as a field of its own.
        return reply
          .code(201)
          .header('cache-control', 'no-store')
          .send({ otpauthUri: enrollment.otpauthUri, qrSvg: enrollment.qrSvg });
      },
    },
    {
      method: 'POST',
      url: '/v1/me/mfa/totp/confirm',
      operationId: 'confirmTotp',
      summary: 'Confirm TOTP enrolment with a code; answers ten single-use recovery codes, shown only once.',
      tags: ['account'],
      access: { kind: 'authenticated', scope: 'profile', permission: 'profile.update' },
      schema: { body: confirmBody, response: { 200: recoveryCodesBody } },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { code } = confirmBody.parse(request.body);
        const { recoveryCodes } = await deps.mfa.confirmEnrollment(
          principal.tenantId,
          actorOf(principal),
          code,
          requestContext(request),
        );
        notifyMfaChanged(request, principal.tenantId, actorOf(principal).userId);
        return reply.header('cache-control', 'no-store').send({ recoveryCodes });
      },
    },
    {
      method: 'DELETE',
      url: '/v1/me/mfa/totp',
      operationId: 'disableTotp',
      summary: 'Turn TOTP off with the password and a code (or a recovery code); other sessions end.',
      tags: ['account'],
      access: { kind: 'authenticated', scope: 'profile', permission: 'profile.update' },
      schema: { body: disableBody },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        await deps.mfa.disable(
          principal.tenantId,
          actorOf(principal),
          disableBody.parse(request.body),
          requestContext(request),
        );
        notifyMfaChanged(request, principal.tenantId, actorOf(principal).userId);
        return reply.code(204).send();
      },
    },
    {
      method: 'DELETE',
      url: '/v1/users/:userId/mfa',
      operationId: 'resetUserMfa',
      summary: "Reset a user's MFA (lost device): TOTP and recovery codes are cleared, their sessions end.",
      tags: ['users'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'mfa.reset' },
      schema: { params: userParams },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { userId } = userParams.parse(request.params);
        await deps.mfa.adminReset(
          principal.tenantId,
          { ...actorOf(principal), isOwner: principal.roles.includes('owner') },
          userId,
          requestContext(request),
        );
        notifyMfaChanged(request, principal.tenantId, userId);
        return reply.code(204).send();
      },
    },
  ];
}
