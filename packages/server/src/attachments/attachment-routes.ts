import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { attachmentBody, uploadAttachmentBody, uploadAttachmentQuery } from '@parley/protocol';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { AppError } from '../app-error.ts';
import { principalOf } from '../http/auth-hook.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { AttachmentService, OpenedAttachment } from './attachment-service.ts';
import { parseRange } from './byte-range.ts';
import { type ReadRecorder, recordFileRead } from '../compliance/access-log/access-record.ts';
import { isInlineType, servedType } from './content-sniffer.ts';

const attachmentParams = z.object({ attachmentId: z.uuid() });

/**
 * After a refused upload the client may still be sending: the rest is read and dropped so it sees the answer
 * (closing a socket with unread data makes the peer's TCP reset it, often before the answer is read). Past
 * this many bytes the connection is closed instead.
 */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

function userOf(request: Parameters<typeof principalOf>[0]) {
  const principal = principalOf(request);
  if (principal.userId === null)
    throw new AppError('forbidden', 'Attachments belong to users, not API clients.');
  return { tenantId: principal.tenantId, userId: principal.userId };
}

/** The request body as it arrives; throws when the connection ends before the body did. */
async function* uploadedBytes(raw: IncomingMessage, body: Readable | undefined): AsyncGenerator<Buffer> {
  if (!body) return;
  const cutOff = () => new AppError('bad_request', 'The upload ended before its last byte.');
  try {
    // Not destroyed when the upload is refused half-way: destroying an unfinished request closes the socket.
    for await (const piece of body.iterator({ destroyOnReturn: false })) yield piece as Buffer;
  } catch (error) {
    // The client went away (ECONNRESET): its fault, not a server error to log.
    throw raw.complete ? error : cutOff();
  }
  if (!raw.complete) throw cutOff();
}

function drain(raw: IncomingMessage): void {
  if (raw.complete || raw.destroyed) return;
  let drained = 0;
  raw.on('data', (piece: Buffer) => {
    drained += piece.length;
    if (drained > MAX_DRAIN_BYTES) raw.socket.destroy();
  });
  raw.resume();
}

/** RFC 6266 / RFC 8187: an ASCII fallback and the exact UTF-8 name. */
function contentDisposition(name: string, inline: boolean): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  const exact = encodeURIComponent(name).replace(
    /['()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${inline ? 'inline' : 'attachment'}; filename="${fallback}"; filename*=UTF-8''${exact}`;
}

function sendContent(reply: FastifyReply, attachment: OpenedAttachment, rangeHeader: string | undefined) {
  const { size } = attachment;
  const range = parseRange(rangeHeader, size);
  if (range.kind === 'unsatisfiable') {
    throw new AppError('range_not_satisfiable', undefined, { 'content-range': `bytes */${size}` });
  }
  reply.headers({
    'content-type': servedType(attachment.contentType),
    'content-disposition': contentDisposition(attachment.name, isInlineType(attachment.contentType)),
    'accept-ranges': 'bytes',
    etag: attachment.etag,
    // Never run as a document in the API's origin, even if a browser were to render it.
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'; sandbox",
    'x-content-type-options': 'nosniff',
  });
  if (range.kind === 'partial') {
    return reply
      .code(206)
      .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
      .header('content-length', range.end - range.start + 1)
      .send(attachment.read(range.start, range.end));
  }
  reply.header('content-length', size);
  return reply.send(size === 0 ? '' : attachment.read(0, size - 1));
}

/** Attachment upload (raw bytes, streamed), download (streamed, with byte ranges) and removal. */
export function attachmentRoutes(deps: {
  attachments: AttachmentService;
  /** Who read what, where the tenant records it (compliance/access-log/). */
  accessLog?: { recorder: ReadRecorder };
}): RouteDeclaration[] {
  return [
    {
      method: 'POST',
      url: '/v1/attachments',
      operationId: 'uploadAttachment',
      summary:
        'Upload a file: the body is its raw bytes (any content type), the name in ?name=. The type is sniffed from the bytes; over the tenant’s maxAttachmentBytes answers 413 attachment_too_large and keeps nothing.',
      tags: ['attachments'],
      access: { kind: 'authenticated', scope: 'chat', permission: 'messages.send' },
      consumes: 'application/octet-stream',
      streamsBody: true,
      schema: {
        querystring: uploadAttachmentQuery,
        body: uploadAttachmentBody,
        response: { 201: attachmentBody },
      },
      handler: async (request, reply) => {
        const { tenantId, userId } = userOf(request);
        const { name } = uploadAttachmentQuery.parse(request.query);
        const length = request.headers['content-length'];
        const attachment = await deps.attachments
          .upload(tenantId, userId, {
            name,
            declaredType: request.headers['content-type'],
            declaredLength: length === undefined ? undefined : Number(length),
            content: uploadedBytes(request.raw, request.body as Readable | undefined),
          })
          .catch((error: unknown) => {
            drain(request.raw);
            throw error;
          });
        return reply.code(201).send(attachment);
      },
    },
    {
      method: 'GET',
      url: '/v1/attachments/:attachmentId',
      operationId: 'downloadAttachment',
      summary:
        'Download an attachment (its uploader, or a member of a dialog where a visible message shares it). Served as its sniffed type, inline only for media; a single Range (bytes=a-b, a-, -n) answers 206, an unsatisfiable one 416; several ranges answer the whole file (200).',
      tags: ['attachments'],
      access: { kind: 'authenticated', scope: 'chat', permission: 'dialogs.read' },
      produces: 'application/octet-stream',
      schema: { params: attachmentParams },
      handler: async (request, reply) => {
        const { tenantId, userId } = userOf(request);
        const { attachmentId } = attachmentParams.parse(request.params);
        const attachment = await deps.attachments.open(tenantId, userId, attachmentId);
        recordFileRead(deps.accessLog?.recorder, principalOf(request), 'attachment', attachmentId);
        const ifRange = request.headers['if-range'];
        const range =
          ifRange === undefined || ifRange === attachment.etag ? request.headers.range : undefined;
        return sendContent(reply, attachment, range);
      },
    },
    {
      method: 'DELETE',
      url: '/v1/attachments/:attachmentId',
      operationId: 'removeAttachment',
      summary:
        'Remove an attachment you uploaded, for everyone: its content and key are erased, every later download is 404, and messages that shared it show { id, removed: true }. Anyone else’s attachment, or one already removed, is 404.',
      tags: ['attachments'],
      access: { kind: 'authenticated', scope: 'chat', permission: 'messages.send' },
      schema: { params: attachmentParams },
      handler: async (request, reply) => {
        const { tenantId, userId } = userOf(request);
        const { attachmentId } = attachmentParams.parse(request.params);
        await deps.attachments.remove(tenantId, userId, attachmentId);
        return reply.code(204).send();
      },
    },
  ];
}
