import { Readable } from 'node:stream';
import { auditVerification } from '@parley/protocol';
import { z } from 'zod';
import { principalOf } from '../../http/auth-hook.ts';
import { requestContext } from '../../http/request-context.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { Storage } from '../../storage/database.ts';
import type { AuditLog, AuditQueryFilter } from './audit-log.ts';

const auditQuery = z
  .object({
    actorId: z.string().max(200).optional(),
    actorType: z.enum(['user', 'staff', 'system', 'client']).optional(),
    action: z.string().max(200).optional(),
    targetType: z.string().max(100).optional(),
    targetId: z.string().max(200).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    cursor: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    order: z.enum(['asc', 'desc']).default('desc'),
    format: z.enum(['json', 'jsonl']).default('json'),
  })
  .strict();

/** Reading the audit log (compliance officers and admins). Every read is itself an audit entry. */
export function auditRoutes(deps: { audit: AuditLog; storage: Storage }): RouteDeclaration[] {
  return [
    {
      method: 'GET',
      url: '/v1/audit',
      operationId: 'listAuditEntries',
      summary:
        'Filter the tenant’s audit log; cursor pagination, or the whole selection as JSONL (format=jsonl).',
      tags: ['compliance'],
      access: { kind: 'authenticated', scope: 'audit', permission: 'audit.read' },
      schema: { querystring: auditQuery },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const query = auditQuery.parse(request.query);
        const filter: AuditQueryFilter = {
          actorId: query.actorId,
          actorType: query.actorType,
          action: query.action,
          targetType: query.targetType,
          targetId: query.targetId,
          from: query.from === undefined ? undefined : Date.parse(query.from),
          to: query.to === undefined ? undefined : Date.parse(query.to),
        };
        const { tenantId } = principal;
        const page = await deps.storage.withTenant(tenantId, async (tx) => {
          await deps.audit.append(tx, tenantId, {
            actor: {
              type: principal.userId === null ? 'client' : 'user',
              id: principal.userId ?? principal.clientId ?? undefined,
              sessionId: principal.sessionId,
            },
            action: query.format === 'jsonl' ? 'audit.exported' : 'audit.read',
            outcome: 'success',
            ...requestContext(request),
            details: { filter: JSON.parse(JSON.stringify(filter)) as Record<string, string | number> },
          });
          return query.format === 'json'
            ? deps.audit.query(tx, tenantId, filter, {
                cursor: query.cursor,
                limit: query.limit,
                order: query.order,
              })
            : undefined;
        });
        if (page) return page;
        const lines = deps.audit.exportJsonl(deps.storage, tenantId, filter);
        return reply
          .type('application/x-ndjson; charset=utf-8')
          .header('content-disposition', 'attachment; filename="audit.jsonl"')
          .send(Readable.from(lines));
      },
    },
    {
      method: 'POST',
      url: '/v1/audit/verification',
      operationId: 'verifyAuditChain',
      summary:
        'Recompute the tenant’s audit hash chain now, check its signed checkpoints and the anchor file; answers the first bad entry.',
      tags: ['compliance'],
      access: { kind: 'authenticated', scope: 'audit', permission: 'audit.read' },
      schema: { response: { 200: auditVerification } },
      handler: async (request) => {
        const principal = principalOf(request);
        const { tenantId } = principal;
        const result = await deps.audit.verifyTenant(deps.storage, tenantId);
        const verifiedAt = new Date().toISOString();
        // Recorded after the run, so the entry is not part of what it verified.
        await deps.storage.withTenant(tenantId, (tx) =>
          deps.audit.append(tx, tenantId, {
            actor: {
              type: principal.userId === null ? 'client' : 'user',
              id: principal.userId ?? principal.clientId ?? undefined,
              sessionId: principal.sessionId,
            },
            action: 'audit.verified',
            outcome: 'success',
            ...requestContext(request),
            details: result.ok
              ? { intact: true, entries: result.entries }
              : {
                  intact: false,
                  entries: result.entries,
                  firstBadSeq: result.firstBad.seq,
                  reason: result.firstBad.reason,
                },
          }),
        );
        return { ...result, verifiedAt };
      },
    },
  ];
}
