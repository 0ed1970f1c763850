import {
  legalRequest,
  legalRequestCreate,
  legalRequestDisclosure,
  legalRequestList,
  legalRequestReview,
  tenantLegalRequestList,
  transparencyReport,
} from '@parley/protocol';
import { z } from 'zod';
import { principalOf, staffOf } from '../../http/auth-hook.ts';
import { readScope } from './legal-scope.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import { legalPackageRoutes } from './legal-package-routes.ts';
import type { LegalPackageService } from './legal-package-service.ts';
import type { LegalRequestRow, LegalRequestService } from './legal-request-service.ts';

const requestParams = z.object({ requestId: z.uuid() }).strict();
/** Only security officers run law-enforcement requests. */
const officer = { kind: 'platform', roles: ['security_officer'] } as const;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function present(row: LegalRequestRow) {
  return {
    id: row.id,
    authority: row.authority,
    legalBasis: row.legal_basis,
    orderReference: row.order_reference,
    scope: row.scope,
    scopeSpec: readScope(row.scope_spec),
    tenantId: row.target_tenant_id,
    receivedAt: new Date(row.received_at).toISOString(),
    deadlineAt: new Date(row.deadline_at).toISOString(),
    status: row.status,
    valid: row.valid === null ? null : row.valid === 1,
    binding: row.binding === null ? null : row.binding === 1,
    approvedScope: row.approved_scope,
    approvedScopeSpec: readScope(row.approved_scope_spec),
    // Opened by the service: the column holds the platform-key envelope.
    reviewNotes: row.review_notes,
    objected: row.objected === 1,
    narrowed: row.narrowed === 1,
    nonDisclosureUntil: iso(row.nondisclosure_until),
    tenantNotifiedAt: iso(row.tenant_notified_at),
    disclosedAt: iso(row.disclosed_at),
    packageSha256: row.package_sha256,
  };
}

/** Law-enforcement requests: the security officer's register, the tenant's view, the public transparency report. */
export function legalRequestRoutes({
  legalRequests,
}: {
  legalRequests: LegalRequestService & { packages?: LegalPackageService };
}): RouteDeclaration[] {
  const act = (
    url: string,
    operationId: string,
    summary: string,
    run: (request: Parameters<RouteDeclaration['handler']>[0], id: string) => Promise<LegalRequestRow>,
    body?: z.ZodType,
  ): RouteDeclaration => ({
    method: 'POST',
    url: `/v1/platform/legal-requests/:requestId/${url}`,
    operationId,
    summary,
    tags: ['legal-requests'],
    access: officer,
    schema: { params: requestParams, ...(body ? { body } : {}), response: { 200: legalRequest } },
    handler: async (request) => present(await run(request, requestParams.parse(request.params).requestId)),
  });
  return [
    ...(legalRequests.packages ? legalPackageRoutes({ packages: legalRequests.packages }) : []),
    {
      method: 'POST',
      url: '/v1/platform/legal-requests',
      operationId: 'registerLegalRequest',
      summary:
        'Register a law-enforcement request: authority, legal basis, order reference, scope, tenant, received, deadline.',
      tags: ['legal-requests'],
      access: officer,
      schema: { body: legalRequestCreate, response: { 201: legalRequest } },
      handler: async (request, reply) =>
        reply
          .code(201)
          .send(
            present(await legalRequests.register(staffOf(request), legalRequestCreate.parse(request.body))),
          ),
    },
    {
      method: 'GET',
      url: '/v1/platform/legal-requests',
      operationId: 'listLegalRequests',
      summary: 'Every law-enforcement request, newest first.',
      tags: ['legal-requests'],
      access: officer,
      schema: { response: { 200: legalRequestList } },
      handler: async () => ({ requests: (await legalRequests.list()).map(present) }),
    },
    act(
      'review',
      'reviewLegalRequest',
      'Record the review: valid, binding; approve, narrow (approvedScope) or object; a non-disclosure order and its end.',
      (request, id) => legalRequests.review(staffOf(request), id, legalRequestReview.parse(request.body)),
      legalRequestReview,
    ),
    act(
      'tenant-notice',
      'notifyLegalRequestTenant',
      'E-mail the tenant’s owners about the request (once); refused (nondisclosure_in_force) while a non-disclosure order holds.',
      (request, id) => legalRequests.notifyTenant(staffOf(request), id),
    ),
    act(
      'disclosure',
      'recordLegalRequestDisclosure',
      'Record the disclosure by the package’s SHA-256: only when approved, and only after the tenant notice unless a non-disclosure order holds.',
      (request, id) =>
        legalRequests.disclose(
          staffOf(request),
          id,
          legalRequestDisclosure.parse(request.body).packageSha256,
        ),
      legalRequestDisclosure,
    ),
    {
      method: 'GET',
      url: '/v1/legal-requests',
      operationId: 'listTenantLegalRequests',
      summary: 'Law-enforcement requests about this tenant that it has been told of.',
      tags: ['legal-requests'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'audit.read' },
      schema: { response: { 200: tenantLegalRequestList } },
      handler: async (request) => ({
        requests: (await legalRequests.forTenant(principalOf(request).tenantId)).map((row) => ({
          id: row.id,
          authority: row.authority,
          legalBasis: row.legal_basis,
          orderReference: row.order_reference,
          approvedScope: row.approved_scope,
          status: row.status,
          receivedAt: new Date(row.received_at).toISOString(),
          notifiedAt: new Date(row.tenant_notified_at ?? 0).toISOString(),
          disclosedAt: iso(row.disclosed_at),
        })),
      }),
    },
    {
      method: 'GET',
      url: '/v1/transparency-report',
      operationId: 'getTransparencyReport',
      summary:
        'Law-enforcement requests per half year: received, objected, narrowed, disclosed, tenants notified. Counts only.',
      tags: ['legal-requests'],
      access: { kind: 'public' },
      schema: { response: { 200: transparencyReport } },
      handler: async () => ({ periods: await legalRequests.transparencyReport() }),
    },
  ];
}
