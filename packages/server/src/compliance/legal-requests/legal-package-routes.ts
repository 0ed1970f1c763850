import { legalPackage } from '@parley/protocol';
import { z } from 'zod';
import { staffOf } from '../../http/auth-hook.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { LegalPackageRow } from './legal-package-store.ts';
import type { LegalPackageService } from './legal-package-service.ts';

const requestParams = z.object({ requestId: z.uuid() }).strict();
/** Only security officers build, read and download disclosure packages. */
const officer = { kind: 'platform', roles: ['security_officer'] } as const;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function present(row: LegalPackageRow) {
  return {
    id: row.id,
    requestId: row.request_id,
    status: row.status,
    sha256: row.sha256,
    records: row.records,
    archiveBytes: row.plain_size,
    createdAt: new Date(row.created_at).toISOString(),
    completedAt: iso(row.completed_at),
    expiresAt: iso(row.expires_at),
    downloadCount: row.download_count,
  };
}

/** The disclosure package of a law-enforcement request: build, status, download (security officers only). */
export function legalPackageRoutes({ packages }: { packages: LegalPackageService }): RouteDeclaration[] {
  const url = '/v1/platform/legal-requests/:requestId/package';
  const requestId = (request: { params: unknown }) => requestParams.parse(request.params).requestId;
  return [
    {
      method: 'POST',
      url,
      operationId: 'buildLegalRequestPackage',
      summary:
        'Build the disclosure package with the export engine from the approved scope (202); refused before approval (legal_request_not_approved), before the tenant notice unless a non-disclosure order holds (tenant_notice_required), without an approved scopeSpec (legal_scope_undefined).',
      tags: ['legal-requests'],
      access: officer,
      schema: { params: requestParams, response: { 202: legalPackage } },
      handler: async (request, reply) =>
        reply.code(202).send(present(await packages.build(staffOf(request), requestId(request)))),
    },
    {
      method: 'GET',
      url,
      operationId: 'getLegalRequestPackage',
      summary: 'The request’s disclosure package: status, SHA-256 of the archive, records, download window.',
      tags: ['legal-requests'],
      access: officer,
      schema: { params: requestParams, response: { 200: legalPackage } },
      handler: async (request) => present(await packages.get(requestId(request))),
    },
    {
      method: 'GET',
      url: `${url}/archive`,
      operationId: 'downloadLegalRequestPackage',
      summary:
        'Download the disclosure package (application/gzip, a tar of JSON files) until its window ends (410 legal_package_expired); each download audited.',
      tags: ['legal-requests'],
      access: officer,
      produces: 'application/gzip',
      schema: { params: requestParams },
      handler: async (request, reply) => {
        const download = await packages.download(staffOf(request), requestId(request));
        return reply
          .headers({
            'content-type': 'application/gzip',
            'content-disposition': `attachment; filename="${download.fileName}"`,
            'content-length': download.size,
            'cache-control': 'no-store',
            'x-content-type-options': 'nosniff',
          })
          .send(download.body);
      },
    },
  ];
}
