import { healthBody, serverInfoBody, versionBody } from '@parley/protocol';
import { z } from 'zod';
import { type HealthCheck, checkReadiness } from '../observability/health.ts';
import { parleyVersion } from '../version.ts';
import { asyncApiDocument } from './asyncapi.ts';
import type { RouteDeclaration } from './route-table.ts';

export interface OpsRouteDeps {
  readinessChecks: readonly HealthCheck[];
  securityContact: string;
  /** Computed per request, so a long-running node never publishes a date in the past. */
  securityTxtExpires: () => string;
  canonicalUrl?: string;
  openApiDocument: () => unknown;
}

const publicAccess = { kind: 'public' } as const;
const publicVersion = { name: 'parley', version: parleyVersion, apiVersion: 'v1' } as const;

export function opsRoutes(deps: OpsRouteDeps): RouteDeclaration[] {
  let asyncApiCache: unknown;
  const asyncApi = () => (asyncApiCache ??= asyncApiDocument());
  return [
    {
      method: 'GET',
      url: '/livez',
      operationId: 'getLiveness',
      summary: 'Liveness: the process is up and serving.',
      tags: ['operations'],
      access: publicAccess,
      schema: { response: { 200: healthBody } },
      handler: () => Promise.resolve({ status: 'ok' }),
    },
    {
      method: 'GET',
      url: '/readyz',
      operationId: 'getReadiness',
      summary:
        'Readiness: 503 when the database, Redis (when configured) or the master key file cannot be reached; `checks` names which, without error details.',
      tags: ['operations'],
      access: publicAccess,
      schema: { response: { 200: healthBody, 503: healthBody } },
      handler: async (_request, reply) => {
        const report = await checkReadiness(deps.readinessChecks);
        return reply
          .code(report.ok ? 200 : 503)
          .send({ status: report.ok ? 'ok' : 'unavailable', checks: report.checks });
      },
    },
    {
      method: 'GET',
      url: '/version',
      operationId: 'getVersion',
      summary: 'Product and API version. The runtime version is for administrators only (/v1/admin/server).',
      tags: ['operations'],
      access: publicAccess,
      schema: { response: { 200: versionBody } },
      handler: () => Promise.resolve(publicVersion),
    },
    {
      method: 'GET',
      url: '/v1/admin/server',
      operationId: 'getServerInfo',
      summary: 'Product, API and runtime (Node.js) versions, for a tenant administrator.',
      tags: ['operations'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'tenant.manage' },
      schema: { response: { 200: serverInfoBody } },
      handler: () => Promise.resolve({ ...publicVersion, node: process.version }),
    },
    {
      method: 'GET',
      url: '/openapi.json',
      operationId: 'getOpenApiDocument',
      summary: 'This API as an OpenAPI 3 document, generated from the route declarations.',
      tags: ['operations'],
      access: publicAccess,
      handler: () => Promise.resolve(deps.openApiDocument()),
    },
    {
      method: 'GET',
      url: '/asyncapi.json',
      operationId: 'getAsyncApiDocument',
      summary:
        'The realtime protocol (WSS at /v1/realtime) as an AsyncAPI 3.0 document, generated from the frame schemas.',
      tags: ['operations'],
      access: publicAccess,
      handler: () => Promise.resolve(asyncApi()),
    },
    {
      method: 'GET',
      url: '/.well-known/security.txt',
      operationId: 'getSecurityTxt',
      summary: 'Security contact per RFC 9116.',
      tags: ['operations'],
      access: publicAccess,
      produces: 'text/plain',
      schema: { response: { 200: z.string() } },
      handler: async (_request, reply) => {
        const lines = [
          `Contact: ${deps.securityContact}`,
          `Expires: ${deps.securityTxtExpires()}`,
          'Preferred-Languages: en',
          ...(deps.canonicalUrl ? [`Canonical: ${deps.canonicalUrl}/.well-known/security.txt`] : []),
        ];
        return reply.type('text/plain; charset=utf-8').send(`${lines.join('\n')}\n`);
      },
    },
  ];
}
