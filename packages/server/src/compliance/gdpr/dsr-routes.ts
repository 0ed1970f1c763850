import {
  dataSubjectRequestBody,
  dataSubjectRequestPage,
  extendDataSubjectRequestBody,
  fileDataSubjectRequestBody,
  listDataSubjectRequestsQuery,
  ownDataSubjectRequestBody,
  ownDataSubjectRequestList,
  recordDataSubjectRequestBody,
  updateDataSubjectRequestBody,
} from '@parley/protocol';
import { z } from 'zod';
import { AppError } from '../../app-error.ts';
import { principalOf } from '../../http/auth-hook.ts';
import { requestContext } from '../../http/request-context.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { DsrAudited, DsrService } from './dsr-service.ts';

const requestParams = z.object({ requestId: z.uuid() });

/**
 * The person behind the call, as the audit entry names them. Requests are handled by people, whose acts the
 * record ties to a name; a tenant's server (client_credentials) is refused.
 */
export function personActing(request: Parameters<RouteDeclaration['handler']>[0]): DsrAudited & {
  userId: string;
} {
  const principal = principalOf(request);
  if (principal.userId === null)
    throw new AppError('forbidden', 'This endpoint is for users, not API clients.');
  return {
    userId: principal.userId,
    actor: { type: 'user', id: principal.userId, sessionId: principal.sessionId },
    context: requestContext(request),
  };
}

/** Data subject requests: the administrators' register, and each user's own requests. */
export function dsrRoutes(deps: { dsr: DsrService }): RouteDeclaration[] {
  const { dsr } = deps;
  return [
    {
      method: 'GET',
      url: '/v1/privacy/requests',
      operationId: 'listPrivacyRequests',
      summary:
        'Data subject requests: open ones soonest deadline first, with an overdue flag (filter overdue=true); closed ones newest first.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'privacy.requests.manage' },
      schema: { querystring: listDataSubjectRequestsQuery, response: { 200: dataSubjectRequestPage } },
      handler: async (request) => {
        const query = listDataSubjectRequestsQuery.parse(request.query);
        return dsr.list(principalOf(request).tenantId, {
          ...query,
          overdue: query.overdue === undefined ? undefined : query.overdue === 'true',
        });
      },
    },
    {
      method: 'POST',
      url: '/v1/privacy/requests',
      operationId: 'recordPrivacyRequest',
      summary:
        'Record a data subject request received outside the API (mail, letter, phone); its 30-day deadline runs from receivedAt.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'privacy.requests.manage' },
      schema: { body: recordDataSubjectRequestBody, response: { 201: dataSubjectRequestBody } },
      handler: async (request, reply) => {
        const acting = personActing(request);
        const body = recordDataSubjectRequestBody.parse(request.body);
        const recorded = await dsr.record(
          principalOf(request).tenantId,
          {
            kind: body.kind,
            subjectId: body.subjectId,
            requestedBy: acting.userId,
            source: 'admin',
            receivedAt: body.receivedAt === undefined ? undefined : Date.parse(body.receivedAt),
            note: body.note,
          },
          acting,
        );
        return reply.code(201).send(recorded);
      },
    },
    {
      method: 'GET',
      url: '/v1/privacy/requests/:requestId',
      operationId: 'getPrivacyRequest',
      summary: 'One data subject request.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'privacy.requests.manage' },
      schema: { params: requestParams, response: { 200: dataSubjectRequestBody } },
      handler: async (request) =>
        dsr.get(principalOf(request).tenantId, requestParams.parse(request.params).requestId),
    },
    {
      method: 'PATCH',
      url: '/v1/privacy/requests/:requestId',
      operationId: 'updatePrivacyRequest',
      summary:
        'Start work on a request (in_progress), or close it (completed, refused, cancelled) with an outcome the subject will read.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'privacy.requests.manage' },
      schema: {
        params: requestParams,
        body: updateDataSubjectRequestBody,
        response: { 200: dataSubjectRequestBody },
      },
      handler: async (request) => {
        const acting = personActing(request);
        return dsr.transition(
          principalOf(request).tenantId,
          requestParams.parse(request.params).requestId,
          updateDataSubjectRequestBody.parse(request.body),
          acting,
        );
      },
    },
    {
      method: 'POST',
      url: '/v1/privacy/requests/:requestId/extension',
      operationId: 'extendPrivacyRequest',
      summary:
        'Extend an open request’s deadline, with the reason (GDPR Art. 12(3)); at most 90 days after receipt.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'privacy.requests.manage' },
      schema: {
        params: requestParams,
        body: extendDataSubjectRequestBody,
        response: { 200: dataSubjectRequestBody },
      },
      handler: async (request) => {
        const acting = personActing(request);
        const body = extendDataSubjectRequestBody.parse(request.body);
        return dsr.extend(
          principalOf(request).tenantId,
          requestParams.parse(request.params).requestId,
          { until: Date.parse(body.until), reason: body.reason },
          acting,
        );
      },
    },
    {
      method: 'GET',
      url: '/v1/me/privacy-requests',
      operationId: 'listMyPrivacyRequests',
      summary: 'The signed-in user’s data subject requests, newest first, with their deadlines and outcomes.',
      tags: ['privacy'],
      // No permission: a data subject's rights cannot be taken away by a role.
      access: { kind: 'authenticated', scope: 'profile', permission: null },
      schema: { response: { 200: ownDataSubjectRequestList } },
      handler: async (request) => {
        const { userId } = personActing(request);
        return { requests: await dsr.listOwn(principalOf(request).tenantId, userId) };
      },
    },
    {
      method: 'POST',
      url: '/v1/me/privacy-requests',
      operationId: 'fileMyPrivacyRequest',
      summary:
        'File a data subject request (access, rectification, restriction, objection); it is answered within 30 days.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'profile', permission: null },
      schema: { body: fileDataSubjectRequestBody, response: { 201: ownDataSubjectRequestBody } },
      handler: async (request, reply) => {
        const acting = personActing(request);
        const body = fileDataSubjectRequestBody.parse(request.body);
        const filed = await dsr.fileOwn(
          principalOf(request).tenantId,
          { kind: body.kind, note: body.note, subjectId: acting.userId },
          acting,
        );
        return reply.code(201).send(filed);
      },
    },
  ];
}
