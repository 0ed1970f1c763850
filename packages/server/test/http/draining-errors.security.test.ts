import { errorCatalogue } from '@parley/protocol';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawHttpsConnection } from '../support/raw-https-connection.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Attack (fingerprinting, header stripping): while a node drains for shutdown, a request whose headers were
 * still arriving when the drain began reaches the framework after it started closing. Fastify's own answer there
 * is a bare `{"error":"Service Unavailable","statusCode":503}` without our security headers or a request id:
 * a fingerprint and an uncached-header gap at every rolling deploy. It must be our 503 like any other error.
 */
describe('a request that reaches a draining node', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { PARLEY_SHUTDOWN_GRACE_MS: '5000' } });
  });

  afterAll(async () => {
    await server.database.drop();
  });

  it('is answered 503 service_unavailable in our shape, with our headers, and the connection closes', async () => {
    const reference = await server.request('/livez');
    const connection = await RawHttpsConnection.open(server.url, server.ca);
    // Headers begun before the drain: the connection is busy, so the drain waits for it instead of closing it.
    connection.write('GET /v1/me HTTP/1.1\r\nHost: localhost\r\n');
    await sleep(500); // the first bytes are in (nothing observable marks it; generous for a loaded machine)
    const draining = server.app.shutdown();
    await sleep(500); // the shutdown has begun closing the HTTP server
    connection.write('Accept: application/json\r\n\r\n');
    const second = await connection.readResponse();
    expect(second.status).toBe(503);
    const answer = JSON.parse(second.body) as { error: Record<string, unknown> };
    expect(Object.keys(answer.error).sort()).toEqual(['code', 'message', 'requestId']);
    expect(answer.error.code).toBe('service_unavailable');
    expect(answer.error.message).toBe(errorCatalogue.service_unavailable.message);
    expect(second.headers['x-request-id']).toBe(answer.error.requestId);
    for (const name of ['strict-transport-security', 'x-content-type-options', 'content-security-policy'])
      expect(second.headers[name]).toBe(reference.headers[name]);
    expect(second.headers.connection).toBe('close');
    expect(second.body.toLowerCase()).not.toContain('statuscode');
    await draining;
  });
});
