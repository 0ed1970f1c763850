import {
  erasureBody,
  erasureSettings,
  erasureSettingsPatch,
  requestMyErasureBody,
  requestUserErasureBody,
} from '@parley/protocol';
import { z } from 'zod';
import { principalOf } from '../../http/auth-hook.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import { personActing } from './dsr-routes.ts';
import type { ErasureService } from './erasure-service.ts';
import type { AccountActor } from './restriction-service.ts';

const userParams = z.object({ userId: z.uuid() });

/** Erasure (GDPR Art. 17): the user's own request, the administrators' one, and the tenant's settings. */
export function erasureRoutes(deps: { erasures: ErasureService }): RouteDeclaration[] {
  const { erasures } = deps;
  const actorOf = (request: Parameters<RouteDeclaration['handler']>[0]): AccountActor => ({
    ...personActing(request),
    isOwner: principalOf(request).roles.includes('owner'),
  });
  const requestMine: RouteDeclaration['handler'] = async (request, reply) => {
    const subject = personActing(request);
    const proof = requestMyErasureBody.parse(request.body);
    const erasure = await erasures.requestOwn(principalOf(request).tenantId, subject, proof);
    return reply.code(202).send(erasure);
  };
  return [
    {
      method: 'DELETE',
      url: '/v1/me',
      operationId: 'deleteMe',
      summary:
        'Delete your account: the same as POST /v1/me/erasure (your password again, and a TOTP or recovery code when you have MFA; erased when the grace period ends, cancellable until then).',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'profile', permission: null },
      schema: { body: requestMyErasureBody, response: { 202: erasureBody } },
      handler: requestMine,
    },
    {
      method: 'POST',
      url: '/v1/me/erasure',
      operationId: 'requestMyErasure',
      summary:
        'Ask for the erasure of your own account, proving it is you with your password and, when you have MFA, a current TOTP code or a recovery code (refused with mfa_code_required without one). It runs when the tenant’s grace period ends (until then you can cancel it); you can go on signing in until it starts.',
      tags: ['privacy'],
      // No permission: a data subject's right cannot be taken away by a role.
      access: { kind: 'authenticated', scope: 'profile', permission: null },
      schema: { body: requestMyErasureBody, response: { 202: erasureBody } },
      handler: requestMine,
    },
    {
      method: 'GET',
      url: '/v1/me/erasure',
      operationId: 'getMyErasure',
      summary: 'Your account’s latest erasure request and where it stands.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'profile', permission: null },
      schema: { response: { 200: erasureBody } },
      handler: async (request) => {
        const { userId } = personActing(request);
        return erasures.latest(principalOf(request).tenantId, userId);
      },
    },
    {
      method: 'DELETE',
      url: '/v1/me/erasure',
      operationId: 'cancelMyErasure',
      summary: 'Cancel your scheduled erasure during its grace period: nothing is erased.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'profile', permission: null },
      schema: { response: { 200: erasureBody } },
      handler: async (request) => erasures.cancelOwn(principalOf(request).tenantId, personActing(request)),
    },
    {
      method: 'POST',
      url: '/v1/users/:userId/erasure',
      operationId: 'eraseUser',
      summary:
        'Erase a user (GDPR Art. 17) after the grace period (graceDays may shorten it, 0: at once). Recorded as an erasure request; the certificate is signed when done.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.erase' },
      schema: { params: userParams, body: requestUserErasureBody, response: { 202: erasureBody } },
      handler: async (request, reply) => {
        const erasure = await erasures.requestFor(
          principalOf(request).tenantId,
          actorOf(request),
          userParams.parse(request.params).userId,
          requestUserErasureBody.parse(request.body),
        );
        return reply.code(202).send(erasure);
      },
    },
    {
      method: 'GET',
      url: '/v1/users/:userId/erasure',
      operationId: 'getUserErasure',
      summary: 'A user’s latest erasure and where it stands; once completed, its signed certificate.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.erase' },
      schema: { params: userParams, response: { 200: erasureBody } },
      handler: async (request) =>
        erasures.latest(principalOf(request).tenantId, userParams.parse(request.params).userId),
    },
    {
      method: 'DELETE',
      url: '/v1/users/:userId/erasure',
      operationId: 'cancelUserErasure',
      summary: 'Cancel a user’s scheduled erasure during its grace period: nothing is erased.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.erase' },
      schema: { params: userParams, response: { 200: erasureBody } },
      handler: async (request) =>
        erasures.cancelFor(
          principalOf(request).tenantId,
          actorOf(request),
          userParams.parse(request.params).userId,
        ),
    },
    {
      method: 'GET',
      url: '/v1/tenant/erasure-settings',
      operationId: 'getErasureSettings',
      summary:
        'The tenant’s erasure settings: grace period in days and what happens to an erased user’s messages.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'tenant.read' },
      schema: { response: { 200: erasureSettings } },
      handler: async (request) => erasures.settings(principalOf(request).tenantId),
    },
    {
      method: 'PATCH',
      url: '/v1/tenant/erasure-settings',
      operationId: 'updateErasureSettings',
      summary:
        'Change the erasure grace period (0-30 days) or the message policy (erase, or keep_as_deleted_user). Applies to erasures requested from now on.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'tenant.manage' },
      schema: { body: erasureSettingsPatch, response: { 200: erasureSettings } },
      handler: async (request) => {
        const acting = personActing(request);
        return erasures.updateSettings(
          principalOf(request).tenantId,
          acting,
          erasureSettingsPatch.parse(request.body),
        );
      },
    },
  ];
}
