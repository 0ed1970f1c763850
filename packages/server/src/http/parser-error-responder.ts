import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { errorCatalogue, type ErrorBody, type ErrorCode } from '@parley/protocol';
import type { Logger } from '../observability/logger.ts';

/** Node's refusals that have a more precise answer than 400 `bad_request`. */
const refusalCodes: Partial<Record<string, ErrorCode>> = {
  HPE_HEADER_OVERFLOW: 'headers_too_large',
  ERR_HTTP_REQUEST_TIMEOUT: 'request_timeout',
};

interface Exchange {
  request: IncomingMessage;
  response: ServerResponse;
}

export interface ParserErrorResponder {
  /** Fastify's `clientErrorHandler`: Node's parser refused bytes on this socket. */
  onClientError: (error: Error & { code?: string }, socket: Socket) => void;
  /** Follows the server's requests, to know which response is still being written on a socket. */
  watch: (server: Server) => void;
}

/** A complete HTTP/1.1 answer in our error shape; the header values are ours, never the client's. */
function rawErrorResponse(
  code: ErrorCode,
  requestId: string,
  headers: Readonly<Record<string, string>>,
): string {
  const { status, message } = errorCatalogue[code];
  const body = JSON.stringify({ error: { code, message, requestId } } satisfies ErrorBody);
  const fields = {
    ...headers,
    'x-request-id': requestId,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
  };
  const head = Object.entries(fields).map(([name, value]) => `${name}: ${value}`);
  return [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, ...head, '', body].join('\r\n');
}

/**
 * Answers what Node's HTTP parser refuses (a malformed request line, an unknown method, headers past the
 * size limit, bytes after a body that do not make a request, a body cut short, a request timeout) with our
 * error body, our security headers and a fresh request id, then closes the connection: after a parse
 * error the position of the next request in the byte stream is unknown, so nothing more is read from it.
 *
 * Requests pipelined before the bad bytes keep their answers: if the last one is complete, the refusal is
 * written after its response. If it is incomplete (its body is what broke), it can never be answered
 * correctly and the refusal replaces its response, as Node does by default.
 */
export function createParserErrorResponder(
  logger: Logger,
  headers: Readonly<Record<string, string>>,
): ParserErrorResponder {
  const latest = new WeakMap<Socket, Exchange>();
  // Node reports every later chunk on a broken parser again; one answer per connection.
  const answered = new WeakSet<Socket>();

  function watch(server: Server): void {
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const exchange = { request, response };
      latest.set(request.socket, exchange);
      response.once('close', () => {
        if (latest.get(request.socket) === exchange) latest.delete(request.socket);
      });
    });
  }

  function onClientError(error: Error & { code?: string }, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return;
    answered.add(socket);
    const code = refusalCodes[error.code ?? ''] ?? 'bad_request';
    const requestId = randomUUID();
    // The Node code names the refusal; the message and raw packet may hold the client's bytes (tokens).
    logger.info(
      { reqId: requestId, refusal: error.code, status: errorCatalogue[code].status },
      'request refused by the HTTP parser',
    );
    const answer = () => {
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(rawErrorResponse(code, requestId, headers), () => socket.destroy());
    };
    const pending = latest.get(socket);
    if (pending === undefined) answer();
    else if (pending.request.complete) pending.response.once('close', answer);
    else if (pending.response.headersSent)
      socket.destroy(); // A half-written response cannot be followed.
    else answer();
  }

  return { onClientError, watch };
}
