import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeRoutes } from '../support/probe-routes.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Attack: an operator, log shipper or log breach harvests credentials and personal data from request logs.
 * Requests carry each kind of secret in every place a client can put it; none may reach the log output.
 */
describe('log redaction', () => {
  let server: TestServer;
  const secrets = {
    bearer: 'parley_at_Q2hlY2tUaGF0VGhpc05ldmVyTGVha3NJbnRvTG9ncw',
    opaque: 'hunter2-0paque-S3cret-value-xyz',
    cookie: 'sid=s%3Acookie-value-that-is-secret-9f8e7d',
    password: 'correct horse battery staple 42!',
    email: 'alice.patient@clinic.example',
    phone: '+49 151 23456789',
    refresh: 'parley_rt_UmVmcmVzaFRva2VuU2hvdWxkTmV2ZXJCZUxvZ2dlZA',
  };

  beforeAll(async () => {
    server = await startTestServer({ extraRoutes: probeRoutes().routes, env: { PARLEY_LOG_LEVEL: 'trace' } });
    const json = { 'content-type': 'application/json' };
    const requests: Parameters<TestServer['request']>[] = [
      ['/livez', { headers: { authorization: `Bearer ${secrets.bearer}` } }],
      [
        '/livez',
        { headers: { authorization: `Basic ${Buffer.from(`u:${secrets.password}`).toString('base64')}` } },
      ],
      ['/livez', { headers: { cookie: secrets.cookie, 'x-api-key': secrets.opaque } }],
      [`/livez?access_token=${secrets.bearer}&email=${encodeURIComponent(secrets.email)}`, {}],
      [`/nowhere/${encodeURIComponent(secrets.email)}?phone=${encodeURIComponent(secrets.phone)}`, {}],
      [`/nowhere?password=${encodeURIComponent(secrets.password)}&token=${secrets.opaque}`, {}],
      [
        '/test/echo',
        {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ text: secrets.email, password: secrets.password, phone: secrets.phone }),
        },
      ],
      ['/test/echo', { method: 'POST', headers: json, body: `{"text":"${secrets.refresh}", broken` }],
      [
        '/test/echo',
        { method: 'POST', headers: json, body: JSON.stringify({ text: 42, email: secrets.email }) },
      ],
    ];
    for (const [path, options] of requests) await server.request(path, options);
    // Direct logging by code that (wrongly) passes personal data: the scrubber still catches it.
    server.app.logger.info(
      { user: { email: secrets.email, phone: secrets.phone } },
      `sign-in by ${secrets.email}`,
    );
    server.app.logger.warn(`token ${secrets.refresh} rejected for ${secrets.phone}`);
  });

  afterAll(async () => {
    await server.close();
  });

  it('logged the requests (the test is looking at real output)', () => {
    const urls = server.logs.entries().map((entry) => (entry.req as { url?: string } | undefined)?.url);
    expect(urls).toContain('/livez?access_token=[REDACTED]&email=[REDACTED]');
    expect(server.logs.text()).toContain('[REDACTED]');
  });

  it.each(Object.entries(secrets))('never writes the %s to the log', (_kind, secret) => {
    const text = server.logs.text();
    expect(text).not.toContain(secret);
    expect(text).not.toContain(encodeURIComponent(secret));
  });

  it('never logs client IP addresses (personal data)', () => {
    expect(server.logs.text()).not.toContain('remoteAddress');
    expect(server.logs.text()).not.toMatch(/"127\.0\.0\.1"/);
  });

  it('puts a request id on every request log line', () => {
    const requestLines = server.logs.entries().filter((entry) => entry.req ?? entry.res);
    expect(requestLines.length).toBeGreaterThan(10);
    for (const line of requestLines) expect(line.reqId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
