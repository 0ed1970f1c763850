import { STATUS_CODES } from 'node:http';
import { errorCatalogue, type ErrorBody, type ErrorCode } from '@parley/protocol';

/** Status, header fields and body of our uniform error, for answers written outside Fastify's reply. */
export interface ErrorResponseParts {
  status: number;
  fields: Record<string, string>;
  body: string;
}

export function errorResponseParts(
  code: ErrorCode,
  requestId: string,
  headers: Readonly<Record<string, string>>,
): ErrorResponseParts {
  const { status, message } = errorCatalogue[code];
  const body = JSON.stringify({ error: { code, message, requestId } } satisfies ErrorBody);
  const fields = {
    ...headers,
    'x-request-id': requestId,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  };
  return { status, fields, body };
}

/**
 * A complete HTTP/1.1 answer in our error shape that closes the connection, for a socket no
 * ServerResponse owns (parser refusals, refused upgrades). Every header value is ours, never the client's.
 */
export function rawErrorResponse(
  code: ErrorCode,
  requestId: string,
  headers: Readonly<Record<string, string>>,
): string {
  const { status, fields, body } = errorResponseParts(code, requestId, headers);
  const head = Object.entries({ ...fields, connection: 'close' }).map(([name, value]) => `${name}: ${value}`);
  return [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, ...head, '', body].join('\r\n');
}
