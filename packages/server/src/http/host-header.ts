import type { IncomingMessage } from 'node:http';

/**
 * RFC 9112 §3.2: an HTTP/1.1 (or later) request without Host is refused. One rule for the HTTP routes and
 * for WebSocket upgrades, which never reach the router.
 */
export function lacksRequiredHost(request: IncomingMessage): boolean {
  const { httpVersionMajor, httpVersionMinor } = request;
  const needsHost = httpVersionMajor > 1 || (httpVersionMajor === 1 && httpVersionMinor >= 1);
  return needsHost && request.headers.host === undefined;
}
