import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { securityHeaders } from '../../src/http/security-headers.ts';
import { createParserErrorResponder } from '../../src/http/parser-error-responder.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { LogCapture } from '../support/start-server.ts';

/**
 * Node answers a request that does not arrive in time with its own bare 408. The product server does
 * not set Node's request timeout yet, so this drives the responder on a plain Node server that does, with
 * the checking interval shortened so the timeout fires within the test.
 */
describe('parser error responder', () => {
  let server: Server | undefined;

  afterEach(async () => {
    server?.closeAllConnections();
    server?.close();
    if (server) await once(server, 'close');
    server = undefined;
  });

  async function start(): Promise<{ port: number; logs: LogCapture }> {
    const logs = new LogCapture();
    const responder = createParserErrorResponder(createLogger('info', logs), securityHeaders(60));
    server = createServer({ requestTimeout: 300, connectionsCheckingInterval: 50 }, (request, response) => {
      request.resume();
      request.on('end', () => response.end('{}'));
    });
    server.on('clientError', responder.onClientError);
    responder.watch(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { port: (server.address() as AddressInfo).port, logs };
  }

  /** Writes the bytes, keeps the connection open and returns everything the server sent before closing. */
  async function sendAndWait(port: number, bytes: string): Promise<string> {
    const socket = net.connect(port, '127.0.0.1');
    socket.write(bytes);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    await once(socket, 'close');
    return received;
  }

  it('answers a body that stops short of its Content-Length, left open, with our 408 request_timeout', async () => {
    const { port, logs } = await start();
    const received = await sendAndWait(
      port,
      'POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    );
    const [head = '', body = ''] = received.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(head).toContain('x-content-type-options: nosniff');
    expect(head).toContain('connection: close');
    const parsed = JSON.parse(body) as { error: { code: string; requestId: string } };
    expect(parsed.error.code).toBe('request_timeout');
    expect(head).toContain(`x-request-id: ${parsed.error.requestId}`);
    expect(logs.entries()).toContainEqual(
      expect.objectContaining({ reqId: parsed.error.requestId, refusal: 'ERR_HTTP_REQUEST_TIMEOUT' }),
    );
  });

  it('answers headers that never end with our 408 request_timeout', async () => {
    const { port } = await start();
    const received = await sendAndWait(port, 'GET /x HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(received).toContain('"code":"request_timeout"');
  });
});
