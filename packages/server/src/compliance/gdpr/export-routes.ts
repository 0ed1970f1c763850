import { dataExportBody, dataExportList } from '@parley/protocol';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { principalOf } from '../../http/auth-hook.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import { personActing } from './dsr-routes.ts';
import { type ReadRecorder, recordFileRead } from '../access-log/access-record.ts';
import type { ExportActor, ExportDownload, ExportReach, ExportService } from './export-service.ts';

const exportParams = z.object({ exportId: z.uuid() });
const userParams = z.object({ userId: z.uuid() });

type Request = Parameters<RouteDeclaration['handler']>[0];

/** The person calling, as the export service records them. API clients are refused: exports are for people. */
function actorOf(request: Request): ExportActor & { tenantId: string } {
  const acting = personActing(request);
  return {
    tenantId: principalOf(request).tenantId,
    userId: acting.userId,
    sessionId: acting.actor.sessionId ?? null,
    context: acting.context,
  };
}

function sendArchive(reply: FastifyReply, download: ExportDownload) {
  return reply
    .headers({
      'content-type': 'application/gzip',
      'content-disposition': `attachment; filename="${download.fileName}"`,
      'content-length': download.size,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    })
    .send(download.body);
}

/**
 * Data exports (GDPR Art. 15 and 20): a user's own under `/v1/me/exports` (no permission: a data subject's
 * right cannot be taken away by a role), an administrator's on a user's behalf under `/v1/users/{id}/exports`
 * and `/v1/exports/{id}` (`privacy.export`). An archive downloads only for whoever asked for it.
 */
export function exportRoutes(deps: {
  exports: ExportService;
  /** Who read what, where the tenant records it (compliance/access-log/). */
  accessLog?: { recorder: ReadRecorder };
}): RouteDeclaration[] {
  const { exports } = deps;
  const own = (request: Request): ExportReach => ({ kind: 'own', userId: personActing(request).userId });
  const tenant: ExportReach = { kind: 'tenant' };
  const exportId = (request: Request) => exportParams.parse(request.params).exportId;
  return [
    {
      method: 'POST',
      url: '/v1/me/exports',
      operationId: 'requestMyExport',
      summary:
        'Ask for an export of your data (GDPR Art. 15 and 20): a .tar.gz of JSON files and your uploads, built in the background; one at a time, a few a day. Poll its status, then download it until it expires.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'profile', permission: null },
      schema: { response: { 202: dataExportBody } },
      handler: async (request, reply) => {
        const actor = actorOf(request);
        return reply.code(202).send(await exports.request(actor.tenantId, actor.userId, actor, 'subject'));
      },
    },
    {
      method: 'GET',
      url: '/v1/me/exports',
      operationId: 'listMyExports',
      summary: 'The exports you asked for, newest first, with their status.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'profile', permission: null },
      schema: { response: { 200: dataExportList } },
      handler: async (request) => {
        const actor = actorOf(request);
        return { exports: await exports.list(actor.tenantId, actor.userId, own(request)) };
      },
    },
    {
      method: 'GET',
      url: '/v1/me/exports/:exportId',
      operationId: 'getMyExport',
      summary: 'One of your exports: its status, progress and expiry.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'profile', permission: null },
      schema: { params: exportParams, response: { 200: dataExportBody } },
      handler: (request) => exports.get(actorOf(request).tenantId, exportId(request), own(request)),
    },
    {
      method: 'GET',
      url: '/v1/me/exports/:exportId/archive',
      operationId: 'downloadMyExport',
      summary:
        'Download your export archive (application/gzip, a tar of JSON files and your uploads); before it is ready 409 export_not_ready, after it expired 410 export_expired.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'profile', permission: null },
      produces: 'application/gzip',
      schema: { params: exportParams },
      handler: async (request, reply) => {
        const actor = actorOf(request);
        const download = await exports.download(actor.tenantId, exportId(request), actor, own(request));
        recordFileRead(deps.accessLog?.recorder, principalOf(request), 'export', exportId(request));
        return sendArchive(reply, download);
      },
    },
    {
      method: 'DELETE',
      url: '/v1/me/exports/:exportId',
      operationId: 'deleteMyExport',
      summary: 'Destroy your export now: the archive is deleted, or its preparation stopped.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'profile', permission: null },
      schema: { params: exportParams },
      handler: async (request, reply) => {
        const actor = actorOf(request);
        await exports.destroy(actor.tenantId, exportId(request), actor, own(request));
        return reply.code(204).send();
      },
    },
    {
      method: 'POST',
      url: '/v1/users/:userId/exports',
      operationId: 'requestUserExport',
      summary:
        'Export a user’s data on their behalf (GDPR Art. 15 and 20); only you can download the archive, to hand it to them. Refused for an erased user (subject_erased).',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'privacy.export' },
      schema: { params: userParams, response: { 202: dataExportBody } },
      handler: async (request, reply) => {
        const actor = actorOf(request);
        const { userId } = userParams.parse(request.params);
        return reply.code(202).send(await exports.request(actor.tenantId, userId, actor, 'admin'));
      },
    },
    {
      method: 'GET',
      url: '/v1/users/:userId/exports',
      operationId: 'listUserExports',
      summary: 'Every export of a user (asked for by them or by an administrator), newest first.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'privacy.export' },
      schema: { params: userParams, response: { 200: dataExportList } },
      handler: async (request) => {
        const actor = actorOf(request);
        const { userId } = userParams.parse(request.params);
        return { exports: await exports.list(actor.tenantId, userId, tenant) };
      },
    },
    {
      method: 'GET',
      url: '/v1/exports/:exportId',
      operationId: 'getExport',
      summary: 'One export of the tenant: its status, progress and expiry.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'privacy.export' },
      schema: { params: exportParams, response: { 200: dataExportBody } },
      handler: (request) => exports.get(actorOf(request).tenantId, exportId(request), tenant),
    },
    {
      method: 'GET',
      url: '/v1/exports/:exportId/archive',
      operationId: 'downloadExport',
      summary:
        'Download an export archive you asked for (application/gzip); anyone else’s is 404, even with privacy.export.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'privacy.export' },
      produces: 'application/gzip',
      schema: { params: exportParams },
      handler: async (request, reply) => {
        const actor = actorOf(request);
        const download = await exports.download(actor.tenantId, exportId(request), actor, tenant);
        recordFileRead(deps.accessLog?.recorder, principalOf(request), 'export', exportId(request));
        return sendArchive(reply, download);
      },
    },
    {
      method: 'DELETE',
      url: '/v1/exports/:exportId',
      operationId: 'deleteExport',
      summary: 'Destroy an export of the tenant now: the archive is deleted, or its preparation stopped.',
      tags: ['privacy'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'privacy.export' },
      schema: { params: exportParams },
      handler: async (request, reply) => {
        const actor = actorOf(request);
        await exports.destroy(actor.tenantId, exportId(request), actor, tenant);
        return reply.code(204).send();
      },
    },
  ];
}
