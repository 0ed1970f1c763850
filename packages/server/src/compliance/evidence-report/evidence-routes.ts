import { complianceReportQuery, signedComplianceReport } from '@parley/protocol';
import { z } from 'zod';
import { principalOf } from '../../http/auth-hook.ts';
import { requestContext } from '../../http/request-context.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { EvidenceReportService } from './evidence-report.ts';
import { renderReportHtml } from './evidence-html.ts';

const access = { kind: 'authenticated', scope: 'audit', permission: 'compliance.report' } as const;

/** What a check of a copy answers: whether it is intact and signed by this installation. */
export const reportCheck = z
  .object({
    ok: z.boolean(),
    keyId: z.string().optional(),
    reason: z.enum(['malformed', 'signature_invalid', 'key_not_trusted']).optional(),
  })
  .meta({ id: 'ComplianceReportCheck' });

/**
 * The tenant's compliance evidence report, for its owner, admins and compliance officers (permission
 * `compliance.report`): always the caller's own tenant, never another's; issuing one is audited.
 */
export function evidenceReportRoutes(deps: { evidenceReports: EvidenceReportService }): RouteDeclaration[] {
  return [
    {
      method: 'GET',
      url: '/v1/compliance/report',
      operationId: 'getComplianceReport',
      summary:
        'The signed compliance evidence report of the tenant, computed from live state now: JSON, or HTML that prints well (format=html).',
      tags: ['compliance'],
      access,
      schema: { querystring: complianceReportQuery },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { format } = complianceReportQuery.parse(request.query);
        const signed = await deps.evidenceReports.issue({
          tenantId: principal.tenantId,
          requestedBy:
            principal.userId === null ? `client:${principal.clientId ?? ''}` : `user:${principal.userId}`,
          actor: {
            type: principal.userId === null ? 'client' : 'user',
            id: principal.userId ?? principal.clientId ?? undefined,
            sessionId: principal.sessionId,
            ...requestContext(request),
          },
        });
        void reply.header('cache-control', 'no-store');
        if (format === 'json') return signed;
        return reply
          .type('text/html; charset=utf-8')
          .header(
            'content-disposition',
            `inline; filename="compliance-report-${signed.report.reportId}.html"`,
          )
          .send(renderReportHtml(signed));
      },
    },
    {
      method: 'POST',
      url: '/v1/compliance/report/verification',
      operationId: 'verifyComplianceReport',
      summary:
        'Check a copy of a signed evidence report: intact, and signed by one of this installation’s audit keys.',
      tags: ['compliance'],
      access,
      schema: { response: { 200: reportCheck } },
      // Read as sent, not through a schema: parsing would drop keys added to the copy before the check.
      documentation: { body: signedComplianceReport },
      handler: async (request) => deps.evidenceReports.verify(request.body),
    },
  ];
}
