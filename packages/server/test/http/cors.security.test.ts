import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { RawHttpsConnection } from '../support/raw-https-connection.ts';
import { startTestServer, type TestResponse, type TestServer } from '../support/start-server.ts';

/**
 * CORS for browser apps on other origins. The attacks: a page on an origin the operator never listed tries to
 * read the API's answers (no CORS header, so the browser withholds them), or to get a preflight approved (403
 * in our shape, not the 405 a tester once found); an OPTIONS request tries to skip authentication, the
 * security headers or the router. The browser's own enforcement is shown in system/cors-browser.test.ts.
 */

const APP = 'https://app.example.com';
const OTHER = 'https://evil.example';

const preflight = (origin: string, headers = 'authorization, content-type') => ({
  method: 'OPTIONS',
  headers: {
    origin,
    'access-control-request-method': 'POST',
    'access-control-request-headers': headers,
  },
});

function expectErrorShape(response: TestResponse, code: string): void {
  const body = response.json<{ error: { code: string; message: string; requestId: string } }>();
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'requestId']);
  expect(body.error.code).toBe(code);
  expect(body.error.requestId).toBe(response.headers['x-request-id']);
}

function expectSecurityHeaders(response: TestResponse): void {
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
  expect(response.headers['content-security-policy']).toContain("default-src 'none'");
}

function expectNoCorsHeaders(response: TestResponse): void {
  const cors = Object.keys(response.headers).filter((name) => name.startsWith('access-control-'));
  expect(cors).toEqual([]);
}

describe('CORS with listed origins', () => {
  let server: TestServer;
  let owner: SignedIn;

  beforeAll(async () => {
    server = await startTestServer({ env: { PARLEY_CORS_ORIGINS: `${APP}, http://127.0.0.2:5173` } });
    owner = await newTenantOwner(server);
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers a listed origin’s preflight with 204, the methods, headers and max-age, without a token', async () => {
    const response = await server.request('/v1/dialogs', preflight(APP));
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expect(response.headers['access-control-allow-origin']).toBe(APP);
    expect(response.headers['access-control-allow-methods']).toBe('GET, HEAD, POST, PUT, PATCH, DELETE');
    const allowed = String(response.headers['access-control-allow-headers']).toLowerCase().split(', ');
    expect(allowed).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'x-request-id', 'traceparent']),
    );
    expect(response.headers['access-control-max-age']).toBe('600');
    expect(response.headers.vary).toContain('Origin');
    // Bearer tokens need no credentials mode: the header that would let cookies ride along is not sent.
    expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    expectSecurityHeaders(response);
    expect(response.headers['x-request-id']).toBeTruthy();
  });

  it('lets a listed origin read answers, errors included, with the headers an app needs exposed', async () => {
    const ok = await server.request('/v1/me', {
      headers: { origin: APP, authorization: `Bearer ${owner.accessToken}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(APP);
    const exposed = String(ok.headers['access-control-expose-headers']).toLowerCase().split(', ');
    expect(exposed).toEqual(expect.arrayContaining(['x-request-id', 'retry-after', 'www-authenticate']));
    expectSecurityHeaders(ok);

    const refused = await server.request('/v1/me', { headers: { origin: 'http://127.0.0.2:5173' } });
    expect(refused.status).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe('http://127.0.0.2:5173');
    expectErrorShape(refused, 'unauthorized');
  });

  it('gives an origin that is not listed no CORS header at all, so the browser withholds the answer', async () => {
    for (const origin of [OTHER, 'https://app.example.com.evil.example', 'https://APP.example.com', 'null']) {
      const response = await server.request('/v1/me', {
        headers: { origin, authorization: `Bearer ${owner.accessToken}` },
      });
      expectNoCorsHeaders(response);
    }
  });

  it('refuses the preflight of an origin that is not listed with 403 in our shape (not 405, not 500)', async () => {
    for (const origin of [OTHER, 'http://app.example.com', `${APP}:8443`, 'null']) {
      const response = await server.request('/v1/dialogs', preflight(origin));
      expect(response.status).toBe(403);
      expectErrorShape(response, 'forbidden');
      expectNoCorsHeaders(response);
      expectSecurityHeaders(response);
    }
  });

  it('leaves an OPTIONS that is not a preflight to the router: 405 with Allow, or 404', async () => {
    const known = await server.request('/v1/dialogs', { method: 'OPTIONS', headers: { origin: APP } });
    expect(known.status).toBe(405);
    expect(known.headers.allow).toBe('GET, POST');
    expectErrorShape(known, 'method_not_allowed');
    expectNoCorsHeaders(known);
    const bare = await server.request('/v1/dialogs', { method: 'OPTIONS' });
    expect(bare.status).toBe(405);
    const unknown = await server.request('/v1/no-such-thing', { method: 'OPTIONS' });
    expect(unknown.status).toBe(404);
    expectErrorShape(unknown, 'route_not_found');
  });

  it('answers a preflight without Host like any request without Host: 400 in our shape, never a 500', async () => {
    // The CORS plugin adds an OPTIONS route; errors raised by hooks on it must reach our error handler too.
    const connection = await RawHttpsConnection.open(server.url, server.ca);
    connection.write(
      `OPTIONS /v1/dialogs HTTP/1.1\r\nOrigin: ${APP}\r\nAccess-Control-Request-Method: POST\r\n\r\n`,
    );
    const response = await connection.readResponse();
    expect(response.status).toBe(400);
    const body = JSON.parse(response.body) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe('bad_request');
    expect(body.error.requestId).toBe(response.headers['x-request-id']);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
  });

  it('still authenticates the real request after an approved preflight: a preflight is no way around auth', async () => {
    const approved = await server.request('/v1/dialogs', preflight(APP));
    expect(approved.status).toBe(204);
    const post = await server.request('/v1/dialogs', {
      method: 'POST',
      headers: { origin: APP, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'group', name: 'x', memberIds: [] }),
    });
    expect(post.status).toBe(401);
    expect(post.headers['access-control-allow-origin']).toBe(APP);
    expectErrorShape(post, 'unauthorized');
  });

  it('still refuses a token in the query string on a cross-origin request', async () => {
    const response = await server.request(`/v1/me?access_token=${owner.accessToken}`, {
      headers: { origin: APP },
    });
    expect(response.status).toBe(400);
    expectErrorShape(response, 'token_in_query');
  });
});

describe('CORS off (the default)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('sends no CORS header to any origin and refuses every preflight with 403 in our shape', async () => {
    const get = await server.request('/livez', { headers: { origin: APP } });
    expect(get.status).toBe(200);
    expectNoCorsHeaders(get);
    const response = await server.request('/v1/dialogs', preflight(APP));
    expect(response.status).toBe(403);
    expectErrorShape(response, 'forbidden');
    expectNoCorsHeaders(response);
    expectSecurityHeaders(response);
  });
});

describe('CORS settings', () => {
  it('`*` answers any origin with `*`, never with credentials', async () => {
    const server = await startTestServer({ env: { PARLEY_CORS_ORIGINS: '*', PARLEY_CORS_MAX_AGE: '60' } });
    try {
      const response = await server.request('/v1/dialogs', preflight(OTHER));
      expect(response.status).toBe(204);
      expect(response.headers['access-control-allow-origin']).toBe('*');
      expect(response.headers['access-control-allow-credentials']).toBeUndefined();
      expect(response.headers['access-control-max-age']).toBe('60');
    } finally {
      await server.close();
    }
  });

  it('PARLEY_CORS_CREDENTIALS=true allows credentials to the listed origins only', async () => {
    const server = await startTestServer({
      env: { PARLEY_CORS_ORIGINS: APP, PARLEY_CORS_CREDENTIALS: 'true' },
    });
    try {
      const listed = await server.request('/livez', { headers: { origin: APP } });
      expect(listed.headers['access-control-allow-origin']).toBe(APP);
      expect(listed.headers['access-control-allow-credentials']).toBe('true');
      const other = await server.request('/livez', { headers: { origin: OTHER } });
      expectNoCorsHeaders(other);
    } finally {
      await server.close();
    }
  });
});
