import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestIdFrom } from '../../src/http/request-id.ts';
import { RawHttpsConnection } from '../support/raw-https-connection.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Request ids a caller sends are kept when well-formed, so one id follows a request through a proxy, Parley's
 * logs and the answer. The attacks: a caller-chosen id that forges a header or a log line (a newline), bloats
 * every line (an overlong one), or smuggles markup; each is replaced by a fresh id.
 */

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

describe('request ids', () => {
  it('keeps a well-formed X-Request-Id, else takes a valid traceparent’s trace id, else makes a UUID', () => {
    expect(requestIdFrom({ 'x-request-id': 'edge-7f3a:12.9_x' })).toBe('edge-7f3a:12.9_x');
    expect(requestIdFrom({ 'x-request-id': 'a'.repeat(128) })).toBe('a'.repeat(128));
    expect(requestIdFrom({ traceparent: TRACEPARENT })).toBe(TRACE_ID);
    // X-Request-Id names the request when both are sent.
    expect(requestIdFrom({ 'x-request-id': 'mine', traceparent: TRACEPARENT })).toBe('mine');
    expect(requestIdFrom({})).toMatch(uuid);
  });

  it('replaces an injected, overlong or malformed X-Request-Id with a fresh one', () => {
    const hostile = [
      'abc\r\nSet-Cookie: x=1',
      'abc\n{"level":60,"msg":"forged"}',
      'a'.repeat(129),
      '',
      'has space',
      'one, two', // two X-Request-Id headers, joined by Node
      '<script>alert(1)</script>',
      'ünïcode',
      'tab\there',
    ];
    for (const value of hostile) {
      const id = requestIdFrom({ 'x-request-id': value });
      expect(id, value).toMatch(uuid);
    }
  });

  it('ignores a malformed or invalid traceparent', () => {
    const invalid = [
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, // all-zero trace id
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`, // all-zero parent id
      `ff-${TRACE_ID}-00f067aa0ba902b7-01`, // version ff is forbidden
      `00-${TRACE_ID.toUpperCase()}-00f067aa0ba902b7-01`, // upper-case hex
      `00-${TRACE_ID}-00f067aa0ba902b7`, // no flags
      `00-${TRACE_ID}x-00f067aa0ba902b7-01`,
      `00-${TRACE_ID}-00f067aa0ba902b7-01\nx`,
    ];
    for (const traceparent of invalid) expect(requestIdFrom({ traceparent }), traceparent).toMatch(uuid);
  });

  describe('over HTTP', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer();
    });
    afterAll(async () => {
      await server.close();
    });

    it('echoes a kept id in X-Request-Id, in the error body and in the request’s log lines', async () => {
      const response = await server.request('/v1/me', { headers: { 'x-request-id': 'lb-0042.trace:7' } });
      expect(response.status).toBe(401);
      expect(response.headers['x-request-id']).toBe('lb-0042.trace:7');
      expect(response.json<{ error: { requestId: string } }>().error.requestId).toBe('lb-0042.trace:7');
      const logged = server.logs.entries().filter((entry) => entry.reqId === 'lb-0042.trace:7');
      expect(logged.map((entry) => entry.msg)).toEqual(['incoming request', 'request completed']);
    });

    it('uses the traceparent trace id as the request id', async () => {
      const response = await server.request('/livez', { headers: { traceparent: TRACEPARENT } });
      expect(response.headers['x-request-id']).toBe(TRACE_ID);
    });

    it('answers an overlong or malformed X-Request-Id with a fresh id of its own', async () => {
      for (const value of ['a'.repeat(500), 'x y', '"quoted"']) {
        const response = await server.request('/v1/no-such-route', { headers: { 'x-request-id': value } });
        const id = response.headers['x-request-id'];
        expect(id).toMatch(uuid);
        expect(response.json<{ error: { requestId: string } }>().error.requestId).toBe(id);
        expect(server.logs.text()).not.toContain(value);
      }
    });

    it('refuses a raw newline in the header before any request id is made (Node’s parser: 400)', async () => {
      // The HTTP parser rejects CR/LF inside a header value, so an injected line never reaches the id.
      const connection = await RawHttpsConnection.open(server.url, server.ca);
      connection.write('GET /livez HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: a\rb\r\n\r\n');
      const response = await connection.readResponse();
      expect(response.status).toBe(400);
      expect(response.headers['x-request-id']).toMatch(uuid);
    });
  });
});
