import { errorCatalogue } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeRoutes } from '../support/probe-routes.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

const json = { 'content-type': 'application/json' };

describe('error responses', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      extraRoutes: probeRoutes().routes,
      env: { PARLEY_BODY_LIMIT_BYTES: '1024' },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  /** Every error body is exactly the uniform shape, with the catalogue status and this request's id. */
  function expectError(
    response: Awaited<ReturnType<TestServer['request']>>,
    code: keyof typeof errorCatalogue,
  ): void {
    expect(response.status).toBe(errorCatalogue[code].status);
    const body = response.json<{ error: Record<string, unknown> }>();
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'requestId']);
    expect(body.error.code).toBe(code);
    expect(body.error.requestId).toBe(response.headers['x-request-id']);
    expect(response.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
  }

  it('accepts a valid JSON body', async () => {
    const response = await server.request('/test/echo', {
      method: 'POST',
      headers: json,
      body: '{"text":"hi"}',
    });
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ echoed: { text: 'hi' } });
  });

  it('answers malformed JSON with 400 malformed_json', async () => {
    const response = await server.request('/test/echo', {
      method: 'POST',
      headers: json,
      body: '{"text": "hi",',
    });
    expectError(response, 'malformed_json');
  });

  it('answers an empty JSON body with 400 malformed_json', async () => {
    const response = await server.request('/test/echo', { method: 'POST', headers: json, body: '' });
    expectError(response, 'malformed_json');
  });

  it('refuses a prototype-pollution payload as malformed', async () => {
    const body = '{"text":"hi","__proto__":{"admin":true}}';
    const response = await server.request('/test/echo', { method: 'POST', headers: json, body });
    expectError(response, 'malformed_json');
  });

  it('answers a body that breaks the schema with 400 validation_failed naming the field', async () => {
    const response = await server.request('/test/echo', {
      method: 'POST',
      headers: json,
      body: '{"text":42}',
    });
    expectError(response, 'validation_failed');
    expect(response.json<{ error: { message: string } }>().error.message).toMatch(/body\.text/);
  });

  it('answers a wrong content type with 415 unsupported_media_type', async () => {
    for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
      const response = await server.request('/test/echo', {
        method: 'POST',
        headers: { 'content-type': type },
        body: 'text=hi',
      });
      expectError(response, 'unsupported_media_type');
    }
  });

  it('answers a body over the configured limit with 413 payload_too_large', async () => {
    const body = JSON.stringify({ text: 'x'.repeat(2000) });
    const response = await server.request('/test/echo', { method: 'POST', headers: json, body });
    expectError(response, 'payload_too_large');
  });

  it('answers an unknown route with 404 route_not_found', async () => {
    expectError(await server.request('/v1/nothing-here'), 'route_not_found');
  });

  it('answers a known path with the wrong method with 405 and an Allow header', async () => {
    const response = await server.request('/livez', { method: 'DELETE' });
    expectError(response, 'method_not_allowed');
    expect(response.headers.allow).toBe('GET');
    const post = await server.request('/test/echo', { method: 'GET' });
    expectError(post, 'method_not_allowed');
    expect(post.headers.allow).toBe('POST');
  });

  it('answers an unexpected failure with a generic 500 and logs it with the request id', async () => {
    const response = await server.request('/test/crash');
    expectError(response, 'internal_error');
    expect(response.json<{ error: { message: string } }>().error.message).toBe(
      errorCatalogue.internal_error.message,
    );
    expect(response.text).not.toContain('exploded');
    const requestId = response.headers['x-request-id'];
    const logged = server.logs.entries().find((entry) => entry.msg === 'unhandled error');
    expect(logged).toMatchObject({
      level: 50,
      reqId: requestId,
      err: { message: expect.stringContaining('exploded') },
    });
  });
});
