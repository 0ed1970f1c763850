import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '@parley/protocol';
import { rawErrorResponse } from '../http/raw-error-response.ts';

/**
 * Refuses a WebSocket upgrade in our error shape (with the security headers and the request id, by default a
 * fresh one) and closes the socket. An upgrading socket belongs to no Fastify reply, so this is written raw.
 */
export function refuseUpgrade(
  socket: Duplex,
  code: ErrorCode,
  headers: Readonly<Record<string, string>>,
  requestId: string = randomUUID(),
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawErrorResponse(code, requestId, headers), () => socket.destroy());
}

/**
 * `ws` refuses handshakes it cannot accept (wrong method, Upgrade header, key, version, subprotocol list)
 * and says which only in its message; its own answer would be plain text. Unrecognised messages fall back
 * to 400 `bad_request`, so a changed wording in `ws` loses precision, never the shape.
 */
export function refuseHandshake(
  socket: Duplex,
  error: Error,
  headers: Readonly<Record<string, string>>,
  requestId?: string,
): void {
  if (error.message === 'Invalid HTTP method') {
    refuseUpgrade(socket, 'method_not_allowed', { ...headers, allow: 'GET' }, requestId);
  } else if (error.message.includes('Sec-WebSocket-Version')) {
    // RFC 6455 §4.4: name the version this server speaks.
    refuseUpgrade(socket, 'bad_request', { ...headers, 'sec-websocket-version': '13' }, requestId);
  } else {
    refuseUpgrade(socket, 'bad_request', headers, requestId);
  }
}
