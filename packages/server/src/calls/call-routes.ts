import { callHistoryPage } from '@parley/protocol';
import { z } from 'zod';
import type { RouteDeclaration } from '../http/route-table.ts';
import { dialogParams, userOf } from '../messaging/dialog-routes.ts';
import type { CallHistoryService } from './call-history-service.ts';

const pageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(200).optional(),
  })
  .strict();

/** Call records over REST; the calls themselves are signaled over the realtime channel. */
export function callRoutes(deps: { callHistory: CallHistoryService }): RouteDeclaration[] {
  const access = { kind: 'authenticated', scope: 'calls', permission: 'calls.make' } as const;
  return [
    {
      method: 'GET',
      url: '/v1/calls',
      operationId: 'listCalls',
      summary: 'Your calls, newest first: participants, media, times, outcome and duration.',
      tags: ['calls'],
      access,
      schema: { querystring: pageQuery, response: { 200: callHistoryPage } },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        return deps.callHistory.mine(tenantId, userId, pageQuery.parse(request.query));
      },
    },
    {
      method: 'GET',
      url: '/v1/dialogs/:dialogId/calls',
      operationId: 'listDialogCalls',
      summary: 'The calls made in a dialog you are a member of, newest first.',
      tags: ['calls'],
      access,
      schema: { params: dialogParams, querystring: pageQuery, response: { 200: callHistoryPage } },
      handler: async (request) => {
        const { tenantId, userId } = userOf(request);
        return deps.callHistory.ofDialog(
          tenantId,
          userId,
          dialogParams.parse(request.params).dialogId,
          pageQuery.parse(request.query),
        );
      },
    },
  ];
}
