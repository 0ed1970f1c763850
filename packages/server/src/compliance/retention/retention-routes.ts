import {
  dialogRetentionBody,
  legalHoldBody,
  legalHoldListBody,
  placeLegalHoldBody,
  retentionPlanBody,
  retentionRulesBody,
  setDialogRetentionBody,
  updateRetentionRulesBody,
} from '@parley/protocol';
import { z } from 'zod';
import { AppError } from '../../app-error.ts';
import { principalOf } from '../../http/auth-hook.ts';
import { requestContext } from '../../http/request-context.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { HoldActor, LegalHoldService } from './legal-hold-service.ts';
import type { RetentionService } from './retention-service.ts';
import type { RetentionSweeper } from './retention-sweeper.ts';

const dialogParams = z.object({ dialogId: z.uuid() });
const holdParams = z.object({ holdId: z.uuid() });
const holdQuery = z.object({ active: z.enum(['true', 'false']).optional() });
const rules = { kind: 'authenticated', scope: 'admin', permission: 'retention.manage' } as const;
const holds = { kind: 'authenticated', scope: 'admin', permission: 'legal_holds.manage' } as const;

function actorOf(request: Parameters<RouteDeclaration['handler']>[0]): HoldActor {
  const principal = principalOf(request);
  if (principal.userId === null)
    throw new AppError('forbidden', 'This endpoint is for users, not API clients.');
  return {
    userId: principal.userId,
    actor: { type: 'user', id: principal.userId, sessionId: principal.sessionId },
    context: requestContext(request),
  };
}

/** Retention rules, dialog overrides, the dry run, and legal holds (docs/privacy.md, "Retention"). */
export function retentionRoutes(deps: {
  retention: RetentionService;
  legalHolds: LegalHoldService;
  retentionSweeper: Pick<RetentionSweeper, 'plan'>;
}): RouteDeclaration[] {
  const tenantOf = (request: Parameters<RouteDeclaration['handler']>[0]) => principalOf(request).tenantId;
  return [
    {
      method: 'GET',
      url: '/v1/retention',
      operationId: 'getRetentionRules',
      summary: 'The tenant’s retention rules (defaults where none was set).',
      tags: ['retention'],
      access: rules,
      schema: { response: { 200: retentionRulesBody } },
      handler: async (request) => deps.retention.get(tenantOf(request)),
    },
    {
      method: 'PATCH',
      url: '/v1/retention',
      operationId: 'updateRetentionRules',
      summary: 'Change some of the tenant’s retention rules; the result is validated as a whole.',
      tags: ['retention'],
      access: rules,
      schema: { body: updateRetentionRulesBody, response: { 200: retentionRulesBody } },
      handler: async (request) =>
        deps.retention.update(
          tenantOf(request),
          actorOf(request),
          updateRetentionRulesBody.parse(request.body),
        ),
    },
    {
      method: 'GET',
      url: '/v1/retention/plan',
      operationId: 'getRetentionPlan',
      summary:
        'Dry run: how many rows the next sweep would delete per rule, and how many a legal hold keeps.',
      tags: ['retention'],
      access: rules,
      schema: { response: { 200: retentionPlanBody } },
      handler: async (request) => deps.retentionSweeper.plan(tenantOf(request)),
    },
    {
      method: 'GET',
      url: '/v1/retention/dialogs/:dialogId',
      operationId: 'getDialogRetention',
      summary:
        'A dialog’s overrides (messages, attachments, call records, search entries) and the rule each follows now.',
      tags: ['retention'],
      access: rules,
      schema: { params: dialogParams, response: { 200: dialogRetentionBody } },
      handler: async (request) =>
        deps.retention.getDialog(tenantOf(request), dialogParams.parse(request.params).dialogId),
    },
    {
      method: 'PUT',
      url: '/v1/retention/dialogs/:dialogId',
      operationId: 'setDialogRetention',
      summary:
        'Replace a dialog’s overrides (shorter or longer than the tenant’s; null: unlimited; a kind left out follows the tenant).',
      tags: ['retention'],
      access: rules,
      schema: { params: dialogParams, body: setDialogRetentionBody, response: { 200: dialogRetentionBody } },
      handler: async (request) =>
        deps.retention.setDialog(
          tenantOf(request),
          actorOf(request),
          dialogParams.parse(request.params).dialogId,
          setDialogRetentionBody.parse(request.body),
          true,
        ),
    },
    {
      method: 'DELETE',
      url: '/v1/retention/dialogs/:dialogId',
      operationId: 'clearDialogRetention',
      summary: 'Drop a dialog’s overrides: it follows the tenant’s rules again.',
      tags: ['retention'],
      access: rules,
      schema: { params: dialogParams, response: { 200: dialogRetentionBody } },
      handler: async (request) =>
        deps.retention.clearDialog(
          tenantOf(request),
          actorOf(request),
          dialogParams.parse(request.params).dialogId,
        ),
    },
    {
      method: 'PUT',
      url: '/v1/dialogs/:dialogId/retention',
      operationId: 'setOwnDialogRetention',
      summary:
        'A dialog’s owner or admin sets stricter rules than the tenant’s for its messages, files, calls and search entries; longer needs retention.manage.',
      tags: ['retention'],
      access: { kind: 'authenticated', scope: 'chat', permission: 'dialogs.write' },
      schema: { params: dialogParams, body: setDialogRetentionBody, response: { 200: dialogRetentionBody } },
      handler: async (request) =>
        deps.retention.setDialog(
          tenantOf(request),
          actorOf(request),
          dialogParams.parse(request.params).dialogId,
          setDialogRetentionBody.parse(request.body),
          principalOf(request).permissions.has('retention.manage'),
        ),
    },
    {
      method: 'GET',
      url: '/v1/legal-holds',
      operationId: 'listLegalHolds',
      summary: 'Legal holds, newest first (active=true: only those in force).',
      tags: ['retention'],
      access: holds,
      schema: { querystring: holdQuery, response: { 200: legalHoldListBody } },
      handler: async (request) => ({
        holds: await deps.legalHolds.list(tenantOf(request), {
          active: holdQuery.parse(request.query).active === 'true',
        }),
      }),
    },
    {
      method: 'POST',
      url: '/v1/legal-holds',
      operationId: 'placeLegalHold',
      summary:
        'Place a legal hold on a user, a dialog or the whole tenant: the sweeper skips it, erasure waits, purge is refused.',
      tags: ['retention'],
      access: holds,
      schema: { body: placeLegalHoldBody, response: { 201: legalHoldBody } },
      handler: async (request, reply) =>
        reply
          .code(201)
          .send(
            await deps.legalHolds.place(
              tenantOf(request),
              actorOf(request),
              placeLegalHoldBody.parse(request.body),
            ),
          ),
    },
    {
      method: 'GET',
      url: '/v1/legal-holds/:holdId',
      operationId: 'getLegalHold',
      summary: 'One legal hold.',
      tags: ['retention'],
      access: holds,
      schema: { params: holdParams, response: { 200: legalHoldBody } },
      handler: async (request) =>
        deps.legalHolds.get(tenantOf(request), holdParams.parse(request.params).holdId),
    },
    {
      method: 'POST',
      url: '/v1/legal-holds/:holdId/release',
      operationId: 'releaseLegalHold',
      summary: 'Release a legal hold now.',
      tags: ['retention'],
      access: holds,
      schema: { params: holdParams, response: { 200: legalHoldBody } },
      handler: async (request) =>
        deps.legalHolds.release(tenantOf(request), actorOf(request), holdParams.parse(request.params).holdId),
    },
  ];
}
