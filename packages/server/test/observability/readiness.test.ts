import { renameSync } from 'node:fs';
import { expect, inject, it } from 'vitest';
import { READINESS_TIMEOUT_MS } from '../../src/observability/health.ts';
import { describePostgres } from '../support/dialects.ts';
import { startPausableProxy } from '../support/pausable-proxy.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

interface Readiness {
  status: string;
  checks: Record<string, { ok: boolean; reason?: string }>;
}

const readiness = async (server: TestServer) => {
  const response = await server.request('/readyz');
  return { status: response.status, body: response.json<Readiness>(), text: response.text };
};

/** What an anonymous caller must never read in /readyz: hosts, ports, paths, driver errors. */
function expectNoInternals(text: string, secrets: readonly string[]): void {
  for (const secret of secrets) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/ECONN|ENOENT|EACCES|error|password|postgres:\/\//i);
}

it('/readyz names a missing master key file, without its path, and is ready again once it is back [sqlite]', async () => {
  const server = await startTestServer();
  try {
    expect((await readiness(server)).body.checks).toMatchObject({
      database: { ok: true },
      keyFile: { ok: true },
    });
    const keyFile = server.app.config.masterKeyFile;
    renameSync(keyFile, `${keyFile}.away`);
    const lost = await readiness(server);
    expect(lost.status).toBe(503);
    expect(lost.body).toMatchObject({
      status: 'unavailable',
      checks: { database: { ok: true }, keyFile: { ok: false, reason: 'failed' } },
    });
    expectNoInternals(lost.text, [keyFile, server.database.dataDir, 'master.key']);
    renameSync(`${keyFile}.away`, keyFile);
    const back = await readiness(server);
    expect(back.status).toBe(200);
    expect(back.body.checks.keyFile).toMatchObject({ ok: true });
  } finally {
    await server.close();
  }
});

describePostgres('/readyz when PostgreSQL goes away and comes back', () => {
  it('is not ready within the readiness timeout of losing the database, and ready again by itself', async () => {
    const target = new URL(inject('postgresUrl'));
    const proxy = await startPausableProxy(target.hostname, Number(target.port || 5432));
    const proxied = new URL(target);
    proxied.port = String(proxy.port);
    const server = await startTestServer({ dialect: 'postgres', env: { DATABASE_URL: proxied.toString() } });
    try {
      expect((await readiness(server)).status).toBe(200);
      proxy.cut();
      const started = performance.now();
      const lost = await readiness(server);
      expect(performance.now() - started).toBeLessThan(READINESS_TIMEOUT_MS + 1000);
      expect(lost.status).toBe(503);
      expect(lost.body).toMatchObject({ status: 'unavailable', checks: { database: { ok: false } } });
      expect(lost.body.checks.keyFile?.ok).toBe(true);
      expectNoInternals(lost.text, [String(proxy.port), target.hostname, server.database.schema ?? '-']);
      // The metrics listener still answers while the database is away: Prometheus sees the node up, not down.
      const scrape = await fetch(server.app.metricsUrl ?? '');
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toContain('parley_build_info');
      proxy.restore();
      await expect
        .poll(async () => (await readiness(server)).status, { timeout: 10_000, interval: 200 })
        .toBe(200);
      expect((await readiness(server)).body.checks.database).toMatchObject({ ok: true });
    } finally {
      await server.app.shutdown().catch(() => undefined);
      await server.database.drop();
      await proxy.close();
    }
  }, 30_000);
});
