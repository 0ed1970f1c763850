import { z } from 'zod';
import { principalOf } from '../../http/auth-hook.ts';
import { requestContext } from '../../http/request-context.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { AccessLogService } from './access-log-service.ts';

const accessLogQuery = z
  .object({
    /** Who read this dialog. */
    dialogId: z.uuid().optional(),
    /** What this user (or staff member) read. */
    readerId: z.string().max(200).optional(),
    /** Who read this user's messages or files. */
    authorId: z.string().max(200).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    cursor: z.string().max(400).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

const accessRecord = z
  .object({
    id: z.string(),
    kind: z.enum(['history', 'search', 'attachment', 'realtime', 'export']),
    reader: z.object({
      type: z.enum(['user', 'staff', 'client']),
      id: z.string().nullable(),
      sessionId: z.string().nullable(),
    }),
    supportGrantId: z.string().nullable(),
    dialogId: z.string().nullable(),
    seqRange: z.object({ from: z.number(), to: z.number() }).nullable(),
    fileId: z.string().nullable(),
    firstReadAt: z.string(),
    lastReadAt: z.string(),
    batchSeq: z.number(),
  })
  .meta({ id: 'AccessRecord' });
const accessLogPage = z
  .object({ records: z.array(accessRecord), nextCursor: z.string().optional() })
  .meta({ id: 'AccessLogPage' });

/** "Who read this dialog (or this user's messages) between these times": compliance officers and admins. */
export function accessLogRoutes(deps: { accessLog: AccessLogService }): RouteDeclaration[] {
  return [
    {
      method: 'GET',
      url: '/v1/compliance/access-log',
      operationId: 'listAccessRecords',
      summary:
        'Who read message content or files (history, search, attachments, realtime deliveries, exports), oldest first: filter by dialog, reader or author and a time window; cursor pagination. Each question is audited.',
      tags: ['compliance'],
      access: { kind: 'authenticated', scope: 'audit', permission: 'audit.read' },
      schema: { querystring: accessLogQuery, response: { 200: accessLogPage } },
      handler: async (request) => {
        const principal = principalOf(request);
        const query = accessLogQuery.parse(request.query);
        return deps.accessLog.query(
          principal.tenantId,
          {
            actor: {
              type: principal.userId === null ? 'client' : 'user',
              id: principal.userId ?? principal.clientId ?? undefined,
              sessionId: principal.sessionId,
            },
            context: requestContext(request),
          },
          {
            dialogId: query.dialogId,
            readerId: query.readerId,
            authorId: query.authorId,
            from: query.from === undefined ? undefined : Date.parse(query.from),
            to: query.to === undefined ? undefined : Date.parse(query.to),
          },
          { cursor: query.cursor, limit: query.limit },
        );
      },
    },
  ];
}
