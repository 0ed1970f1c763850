import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { describePostgres, describeRedis } from '../support/dialects.ts';
import { bearer, newMember, newTenantOwner } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';

describe('operations endpoints', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      env: {
        PARLEY_SECURITY_CONTACT: 'mailto:psirt@example.org',
        PARLEY_SECURITY_TXT_EXPIRES: '2027-06-30T00:00:00.000Z',
      },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('/livez answers 200 while the process runs', async () => {
    const response = await server.request('/livez');
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 with each dependency checked', async () => {
    const response = await server.request('/readyz');
    expect(response.status).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ok', checks: { database: { ok: true } } });
  });

  it('/version names the server and API version', async () => {
    expect((await server.request('/version')).json()).toMatchObject({ name: 'parley', apiVersion: 'v1' });
  });

  /*
   * Attack: reconnaissance. A runtime version tells an anonymous scanner which Node.js CVEs to try before it
   * has any account. Anonymous callers learn the product and API versions only (clients need those); the
   * runtime is for a tenant administrator, signed in with the admin scope.
   */
  it('/version does not tell anonymous callers the runtime version', async () => {
    const response = await server.request('/version');
    expect(response.status).toBe(200);
    expect(Object.keys(response.json<object>()).sort()).toEqual(['apiVersion', 'name', 'version']);
    expect(response.text).not.toContain(process.version);
    expect(response.text).not.toContain(process.versions.node);
    for (const [name, value] of Object.entries(response.headers)) {
      expect(`${name}: ${String(value)}`.toLowerCase()).not.toMatch(/node|fastify|express/);
    }
  });

  it('an administrator reads the runtime version at /v1/admin/server; others are refused', async () => {
    const owner = await newTenantOwner(server);
    const answer = await server.request('/v1/admin/server', bearer(owner.accessToken));
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({
      name: 'parley',
      version: expect.any(String),
      apiVersion: 'v1',
      node: process.version,
    });
    expect((await server.request('/v1/admin/server')).status).toBe(401);
    const member = await newMember(server, owner, `member-${randomUUID()}@acme.example`);
    expect((await server.request('/v1/admin/server', bearer(member.token))).status).toBe(403);
  });

  it('/openapi.json documents every route from the route declarations', async () => {
    const document = (await server.request('/openapi.json')).json<{
      openapi: string;
      paths: Record<string, Record<string, { summary?: string }>>;
    }>();
    expect(document.openapi).toBe('3.1.0');
    for (const path of ['/livez', '/readyz', '/version', '/openapi.json', '/.well-known/security.txt']) {
      expect(document.paths[path]?.get?.summary, path).toBeTruthy();
    }
  });

  it('/.well-known/security.txt follows RFC 9116 with the configured contact and expiry', async () => {
    const response = await server.request('/.well-known/security.txt');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    const fields = response.text.trim().split('\n');
    expect(fields).toContain('Contact: mailto:psirt@example.org');
    expect(fields).toContain('Expires: 2027-06-30T00:00:00.000Z');
    expect(response.text.endsWith('\n')).toBe(true);
  });
});

describePostgres('/readyz when the database goes away', () => {
  it('answers 503 once PostgreSQL cannot be reached', async () => {
    const target = new URL(inject('postgresUrl'));
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const proxied = new URL(target);
    proxied.port = String(proxy.port);
    const server = await startTestServer({ dialect: 'postgres', env: { DATABASE_URL: proxied.toString() } });
    try {
      expect((await server.request('/readyz')).status).toBe(200);
      await proxy.cut();
      const response = await server.request('/readyz');
      expect(response.status).toBe(503);
      expect(response.json()).toMatchObject({ status: 'unavailable', checks: { database: { ok: false } } });
    } finally {
      await server.app.shutdown().catch(() => undefined);
      await server.database.drop();
    }
  });
});

describeRedis('/readyz when Redis goes away', () => {
  it('answers 503 once the configured Redis cannot be reached', async () => {
    const target = new URL(inject('redisUrl'));
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    const server = await startTestServer({ env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
    try {
      await expect.poll(async () => (await server.request('/readyz')).status).toBe(200);
      await proxy.cut();
      const response = await server.request('/readyz');
      expect(response.status).toBe(503);
      expect(response.json()).toMatchObject({ checks: { database: { ok: true }, redis: { ok: false } } });
    } finally {
      await server.close();
    }
  });
});
