import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { errorCatalogue, type ErrorCode } from '@parley/protocol';
import type { Logger } from '../observability/logger.ts';
import { errorResponseParts, rawErrorResponse } from './raw-error-response.ts';

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
  /**
   * Follows the server's requests (to know which response is still being written on a socket) and answers
   * expectations Node cannot meet (`Expect:` other than 100-continue), which Node would answer bare.
   */
  watch: (server: Server) => void;
}

/**
 * Answers what Node's HTTP layer refuses before Fastify sees a request (a malformed request line, an
 * unknown method, headers past the size limit, bytes after a body that do not make a request, a body cut
 * short, a request timeout, an unmet expectation) with our error body, our security headers and a fresh
 * request id. After a parse error the connection is closed: where the next request would start in the
 * byte stream is unknown, so nothing more is read from it.
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

  /** The Node code names the refusal; its message and raw packet may hold the client's bytes (tokens). */
  function logRefusal(requestId: string, refusal: string | undefined, code: ErrorCode): void {
    const status = errorCatalogue[code].status;
    logger.info({ reqId: requestId, refusal, status }, 'request refused before routing');
  }

  function onCheckExpectation(request: IncomingMessage, response: ServerResponse): void {
    const requestId = randomUUID();
    logRefusal(requestId, 'EXPECTATION_FAILED', 'expectation_failed');
    const { status, fields, body } = errorResponseParts('expectation_failed', requestId, headers);
    response.writeHead(status, fields).end(body);
    request.resume(); // Any body sent anyway is read and dropped, so the connection can go on.
  }

  function watch(server: Server): void {
    server.on('checkExpectation', onCheckExpectation);
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
    logRefusal(requestId, error.code, code);
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
