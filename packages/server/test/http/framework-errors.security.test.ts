import { errorCatalogue, type ErrorCode } from '@parley/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { probeRoutes } from '../support/probe-routes.ts';
import { RawHttpsConnection, type RawResponse } from '../support/raw-https-connection.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Attack: send requests that break before any Parley handler runs — bytes Node's HTTP parser refuses
 * (bad request lines, unknown methods, headers past the size limit, a body longer than its
 * Content-Length), URLs the router refuses (bad percent-encoding, a path parameter past its length limit),
 * bodies the content parser refuses (wrong media type, invalid or empty JSON, over the body limit) — and
 * read what comes back. A framework's default answers give the attacker a fingerprint ("FST_ERR_…",
 * "Fastify"), echo the attacker's URL back (reflected content), and skip the security headers (no
 * `nosniff`, no CSP, cacheable). Every such answer must be our uniform error with a catalogued code, a
 * request id and the same security headers as any other response; the connection must either keep
 * serving correctly or be closed, never left in a state where leftover bytes become a request.
 */
describeEachDialect('errors raised before our handlers', (dialect) => {
  const bodyLimit = 1024;
  let server: TestServer;
  let referenceHeaders: Record<string, string>;
  const open: RawHttpsConnection[] = [];

  async function connect(): Promise<RawHttpsConnection> {
    const connection = await RawHttpsConnection.open(server.url, server.ca);
    open.push(connection);
    return connection;
  }

  /** Sends one request on a fresh connection and reads its answer. */
  async function exchange(
    bytes: string | Buffer,
  ): Promise<{ response: RawResponse; connection: RawHttpsConnection }> {
    const connection = await connect();
    connection.write(bytes);
    return { response: await connection.readResponse(), connection };
  }

  const securityHeaderNames = [
    'strict-transport-security',
    'x-content-type-options',
    'x-frame-options',
    'content-security-policy',
    'referrer-policy',
    'cache-control',
  ];

  beforeAll(async () => {
    server = await startTestServer({
      dialect,
      extraRoutes: probeRoutes().routes,
      env: {
        PARLEY_BODY_LIMIT_BYTES: String(bodyLimit),
        // Short enough to see Node's request timeouts answer within a test, long enough for every other case.
        PARLEY_HEADERS_TIMEOUT_MS: '2000',
        PARLEY_REQUEST_TIMEOUT_MS: '3000',
      },
    });
    const { response } = await exchange('GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(response.status).toBe(200);
    referenceHeaders = Object.fromEntries(
      securityHeaderNames.map((name) => [name, response.headers[name] ?? '']),
    );
    for (const value of Object.values(referenceHeaders)) expect(value).not.toBe('');
  });

  afterEach(() => {
    for (const connection of open.splice(0)) connection.destroy();
  });

  afterAll(async () => {
    await server.close();
  });

  /** Our shape, our code, our headers; nothing of the request or of the framework reflected back. */
  function expectOurError(response: RawResponse, code: ErrorCode, reflected: readonly string[] = []): void {
    expect(response.status, response.body).toBe(errorCatalogue[code].status);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(response.body) as { error: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'requestId']);
    expect(body.error.code).toBe(code);
    expect(body.error.message).toBe(errorCatalogue[code].message);
    expect(body.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers['x-request-id']).toBe(body.error.requestId);
    for (const name of securityHeaderNames) expect(response.headers[name], name).toBe(referenceHeaders[name]);
    const everything = `${response.statusLine}\n${JSON.stringify(response.headers)}\n${response.body}`;
    expect(everything).not.toMatch(/fastify|FST_|find-my-way|\bat .*\.(ts|js):\d+/i);
    for (const fragment of reflected) expect(everything).not.toContain(fragment);
  }

  /** The connection still serves a well-formed request correctly after the error. */
  async function expectStillServes(connection: RawHttpsConnection): Promise<void> {
    connection.write('GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const next = await connection.readResponse();
    expect(next.status).toBe(200);
    expect(next.headers['x-content-type-options']).toBe('nosniff');
  }

  /** The server answered and then closed the connection (the parser's state is not trusted again). */
  async function expectClosedAfter(response: RawResponse, connection: RawHttpsConnection): Promise<void> {
    expect(response.headers.connection).toBe('close');
    expect(await connection.closesWithoutMore()).toBe(true);
  }

  describe('refused by the router', () => {
    it('answers bad percent-encoding in a path with 400 bad_request and keeps the connection usable', async () => {
      const { response, connection } = await exchange(
        'GET /v1/dialogs/%E0%A4%A HTTP/1.1\r\nHost: localhost\r\n\r\n',
      );
      expectOurError(response, 'bad_request', ['%E0%A4%A', '/v1/dialogs']);
      await expectStillServes(connection);
    });

    it('answers a path parameter over the length limit with 414 uri_too_long', async () => {
      const long = 'a'.repeat(500);
      const { response, connection } = await exchange(
        `GET /v1/dialogs/${long} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
      );
      expectOurError(response, 'uri_too_long', [long.slice(0, 50), '/v1/dialogs']);
      await expectStillServes(connection);
    });

    it('answers an unknown route with 404 route_not_found without echoing the path', async () => {
      const { response, connection } = await exchange(
        'GET /v1/%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1\r\nHost: localhost\r\n\r\n',
      );
      expectOurError(response, 'route_not_found', ['script', 'alert']);
      await expectStillServes(connection);
    });

    it('answers odd request targets in our shape, never 5xx, and keeps serving', async () => {
      const targets = [
        '/v1/dialogs/%',
        '/v1/dialogs/%zz',
        '/v1/dialogs/%C0%AF',
        '/v1/search?q=%E0%A4%A',
        '/v1/search?q=%',
        '/v1//dialogs',
        '/v1/dialogs/..%2f..%2fetc%2fpasswd',
        '/v1/dialogs/%2e%2e',
        '*',
        'http://evil.example/v1/nothing',
        '/livez#fragment',
        `/v1/dialogs?${'a=1&'.repeat(500)}`,
        `/v1/dialogs/${'%41'.repeat(300)}`,
      ];
      for (const target of targets) {
        const { response, connection } = await exchange(`GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
        expect(response.status, target).toBeLessThan(500);
        if (response.status >= 400) {
          const { code } = (JSON.parse(response.body) as { error: { code: ErrorCode } }).error;
          expectOurError(response, code, ['evil.example', 'passwd']);
        }
        if (response.headers.connection !== 'close') await expectStillServes(connection);
      }
    });

    it('answers a method no route has (known to Node) with our 404 or 405', async () => {
      const { response, connection } = await exchange('PROPFIND /livez HTTP/1.1\r\nHost: localhost\r\n\r\n');
      expectOurError(response, response.status === 405 ? 'method_not_allowed' : 'route_not_found');
      await expectStillServes(connection);
    });
  });

  // A body the content parser refused may not have been read to its end, so the connection is closed.
  describe('refused by the body parser', () => {
    const post = (headers: string, body: string) =>
      `POST /test/echo HTTP/1.1\r\nHost: localhost\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

    it('answers an unsupported media type with 415 unsupported_media_type', async () => {
      const { response, connection } = await exchange(post('Content-Type: application/xml\r\n', '<a/>'));
      expectOurError(response, 'unsupported_media_type', ['application/xml']);
      await expectStillServes(connection);
    });

    it('answers an invalid JSON body with 400 malformed_json', async () => {
      const { response, connection } = await exchange(
        post('Content-Type: application/json\r\n', '{"text": "hi",'),
      );
      expectOurError(response, 'malformed_json', ['Unexpected', 'JSON at position']);
      await expectClosedAfter(response, connection);
    });

    it('answers an empty JSON body with 400 malformed_json', async () => {
      const { response, connection } = await exchange(post('Content-Type: application/json\r\n', ''));
      expectOurError(response, 'malformed_json');
      await expectClosedAfter(response, connection);
    });

    it('answers a body over the limit with 413 payload_too_large, and its unread rest never becomes a request', async () => {
      // The "body" is a second request: if the server stopped reading and parsed on, it would run.
      const smuggled = 'GET /test/crash HTTP/1.1\r\nHost: localhost\r\n\r\n';
      const body = smuggled.repeat(Math.ceil((bodyLimit * 2) / smuggled.length));
      const { response, connection } = await exchange(post('Content-Type: application/json\r\n', body));
      expectOurError(response, 'payload_too_large');
      await expectClosedAfter(response, connection);
      expect(server.logs.text()).not.toContain('unhandled error');
    });
  });

  // A socket being upgraded belongs to no ServerResponse: the gateway and `ws` write their refusals raw.
  describe('refused at the WebSocket upgrade', () => {
    const upgrade = (requestLine: string, headers: Record<string, string> = {}) => {
      const fields = {
        Host: 'localhost',
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      };
      const head = Object.entries(fields).map(([name, value]) => `${name}: ${value}\r\n`);
      return `${requestLine}\r\n${head.join('')}\r\n`;
    };

    it('answers an upgrade on another path with 404 route_not_found and closes', async () => {
      const { response, connection } = await exchange(upgrade('GET /v1/elsewhere HTTP/1.1'));
      expectOurError(response, 'route_not_found', ['elsewhere']);
      await expectClosedAfter(response, connection);
    });

    it('answers an upgrade with a token in the query with 404 route_not_found, without echoing it', async () => {
      const { response, connection } = await exchange(
        upgrade('GET /v1/realtime?token=prl_at_leaked HTTP/1.1'),
      );
      expectOurError(response, 'route_not_found', ['leaked', 'token']);
      await expectClosedAfter(response, connection);
    });

    it('answers an invalid handshake key with 400 bad_request and closes', async () => {
      const { response, connection } = await exchange(
        upgrade('GET /v1/realtime HTTP/1.1', { 'Sec-WebSocket-Key': 'short' }),
      );
      expectOurError(response, 'bad_request', ['Sec-WebSocket-Key']);
      await expectClosedAfter(response, connection);
    });

    it('answers an unknown WebSocket version with 400 bad_request naming the version it speaks', async () => {
      const { response, connection } = await exchange(
        upgrade('GET /v1/realtime HTTP/1.1', { 'Sec-WebSocket-Version': '99' }),
      );
      expectOurError(response, 'bad_request');
      expect(response.headers['sec-websocket-version']).toBe('13');
      await expectClosedAfter(response, connection);
    });

    it('answers an upgrade with another method with 405 method_not_allowed and Allow: GET', async () => {
      const { response, connection } = await exchange(upgrade('POST /v1/realtime HTTP/1.1'));
      expectOurError(response, 'method_not_allowed');
      expect(response.headers.allow).toBe('GET');
      await expectClosedAfter(response, connection);
    });

    it('answers an HTTP/1.1 upgrade without Host with 400 bad_request, as every other request', async () => {
      const withoutHost = upgrade('GET /v1/realtime HTTP/1.1').replace('Host: localhost\r\n', '');
      expect(withoutHost).not.toContain('Host:');
      const { response, connection } = await exchange(withoutHost);
      expectOurError(response, 'bad_request');
      await expectClosedAfter(response, connection);
    });
  });

  describe("refused by Node's HTTP parser", () => {
    it('answers headers over the size limit with 431 headers_too_large and closes', async () => {
      const { response, connection } = await exchange(
        `GET /livez HTTP/1.1\r\nHost: localhost\r\nX-Filler: ${'f'.repeat(20_000)}\r\n\r\n`,
      );
      expectOurError(response, 'headers_too_large', ['ffffffff']);
      await expectClosedAfter(response, connection);
    });

    it('answers an unknown method with 400 bad_request and closes', async () => {
      const { response, connection } = await exchange('BREW /livez HTTP/1.1\r\nHost: localhost\r\n\r\n');
      expectOurError(response, 'bad_request', ['BREW']);
      await expectClosedAfter(response, connection);
    });

    it('answers a malformed request line with 400 bad_request and closes', async () => {
      for (const line of [
        'GET /livez HTTP/9.9',
        'GET /a b HTTP/1.1',
        'GET  HTTP/1.1',
        '\u0001\u0002garbage',
      ]) {
        const { response, connection } = await exchange(`${line}\r\nHost: localhost\r\n\r\n`);
        expectOurError(response, 'bad_request', ['garbage']);
        await expectClosedAfter(response, connection);
      }
    });

    it('answers a body longer than its Content-Length: the declared part is the request, the rest is refused', async () => {
      const { response, connection } = await exchange(
        'POST /test/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n' +
          '{"text":"hi"}{"text":"smuggled"}',
      );
      expect(response.status).toBe(200);
      const rest = await connection.readResponse();
      expectOurError(rest, 'bad_request', ['smuggled']);
      await expectClosedAfter(rest, connection);
    });

    it('answers a body shorter than its Content-Length, cut by the client, with 400 bad_request or silence', async () => {
      const connection = await connect();
      connection.write(
        'POST /test/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n' +
          '{"text":"hi"}',
      );
      connection.endWriting();
      await connection.closed;
      const response = await connection.readResponse().catch(() => undefined);
      if (response) expectOurError(response, 'bad_request');
      expect(server.logs.text()).not.toContain('unhandled error');
    });

    it('answers both Content-Length and Transfer-Encoding (a smuggling attempt) with 400 bad_request and closes', async () => {
      const { response, connection } = await exchange(
        'POST /test/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 4\r\n' +
          'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /test/crash HTTP/1.1\r\nHost: localhost\r\n\r\n',
      );
      expectOurError(response, 'bad_request', ['crash']);
      await expectClosedAfter(response, connection);
    });

    it('answers an HTTP/2 preface on the HTTP/1.1 port with 400 bad_request and closes', async () => {
      const { response, connection } = await exchange('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
      expectOurError(response, 'bad_request');
      await expectClosedAfter(response, connection);
    });

    it('answers an expectation it cannot meet with our 417 expectation_failed', async () => {
      const { response, connection } = await exchange(
        'GET /livez HTTP/1.1\r\nHost: localhost\r\nExpect: teapot\r\n\r\n',
      );
      expectOurError(response, 'expectation_failed', ['teapot']);
      await expectStillServes(connection);
    });

    it('answers a body left short of its Content-Length on an open connection with 408 request_timeout', async () => {
      const connection = await connect();
      connection.write(
        'POST /test/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"te',
      );
      const response = await connection.readResponse();
      expectOurError(response, 'request_timeout');
      await expectClosedAfter(response, connection);
    });

    it('answers headers that never end with 408 request_timeout', async () => {
      const connection = await connect();
      connection.write('GET /livez HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
      const response = await connection.readResponse();
      expectOurError(response, 'request_timeout');
      await expectClosedAfter(response, connection);
    });

    it('answers an HTTP/1.1 request without Host (RFC 9112 §3.2) with 400 bad_request and closes', async () => {
      // Node's own answer here is a bare 400: no body, no security headers, no request id.
      for (const target of ['/livez', '/v1/me', '/no/such/route']) {
        const { response, connection } = await exchange(`GET ${target} HTTP/1.1\r\nX-Probe: 1\r\n\r\n`);
        expectOurError(response, 'bad_request');
        await expectClosedAfter(response, connection);
      }
    });

    it('serves an HTTP/1.0 request and closes after it', async () => {
      const { response, connection } = await exchange('GET /livez HTTP/1.0\r\n\r\n');
      expect(response.status).toBe(200);
      expect(await connection.closesWithoutMore()).toBe(true);
    });

    it('logs a parser refusal with its request id and without the raw bytes', async () => {
      const secret = 'Bearer prl_at_secretsecretsecret';
      const { response } = await exchange(`BREW /livez HTTP/1.1\r\nAuthorization: ${secret}\r\n\r\n`);
      const { requestId } = (JSON.parse(response.body) as { error: { requestId: string } }).error;
      const logged = server.logs.entries().find((entry) => entry.reqId === requestId);
      expect(logged).toMatchObject({ level: 30, refusal: 'HPE_INVALID_METHOD', status: 400 });
      expect(server.logs.text()).not.toContain('secretsecret');
      expect(server.logs.text()).not.toContain('BREW');
    });
  });
});
