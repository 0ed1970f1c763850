import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { describeEachDialect, describeRedis } from '../support/dialects.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { json, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

const DAY_MS = 86_400_000;

/** Every sample of `name` in an exposition text, keyed by its label set (`{}` for none). */
function samples(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (match) found.set(match[1] ?? '{}', Number(match[2]));
  }
  return found;
}

describeEachDialect('database-backed gauges', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  const scrape = async () => (await fetch(server.app.metricsUrl ?? '')).text();

  beforeAll(async () => {
    // Tenant labels on: the per-tenant gauges then name the tenant id (and only its id).
    server = await startTestServer({ dialect, env: { PARLEY_METRICS_TENANT_LABELS: 'true' } });
    owner = await newTenantOwner(server);
  });
  afterAll(async () => {
    await server.close();
  });

  it('reports open data-subject requests and the nearest deadline, per tenant id when opted in', async () => {
    const received = Date.now() - 27 * DAY_MS;
    const recorded = await server.request(
      '/v1/privacy/requests',
      json(
        { subjectId: owner.userId, kind: 'access', receivedAt: new Date(received).toISOString() },
        owner.accessToken,
      ),
    );
    expect(recorded.status, recorded.text).toBe(201);
    const text = await scrape();
    const label = `{tenant_id="${owner.tenantId}"}`;
    expect(samples(text, 'parley_dsr_open_requests').get(label)).toBe(1);
    const deadline = samples(text, 'parley_dsr_nearest_deadline_timestamp_seconds').get(label) ?? 0;
    expect(Math.abs(deadline - (received + 30 * DAY_MS) / 1000)).toBeLessThan(60);
    expect(text).not.toContain('Acme');
  });

  it('reports audit tails, key ages, scheduled tasks and the database of this dialect', async () => {
    const text = await scrape();
    // The owner's sign-up wrote audit entries; the time-based checkpoint has not run yet (60 s).
    expect(
      samples(text, 'parley_audit_unsigned_entries').get(`{tenant_id="${owner.tenantId}"}`),
    ).toBeGreaterThan(0);
    expect(samples(text, 'parley_audit_oldest_unsigned_entry_age_seconds').size).toBeGreaterThan(0);
    const keys = samples(text, 'parley_key_age_seconds');
    for (const kind of ['master', 'signing', 'tenant_data'])
      expect(keys.get(`{kind="${kind}"}`), kind).toBeGreaterThanOrEqual(0);
    expect(samples(text, 'parley_scheduled_task_lag_seconds').size).toBeGreaterThan(0);
    if (dialect === 'postgres') {
      expect(samples(text, 'parley_db_pool_connections').get('{state="idle"}')).toBeGreaterThanOrEqual(0);
      expect(samples(text, 'parley_sqlite_wal_bytes').size).toBe(0);
    } else {
      expect(samples(text, 'parley_sqlite_wal_bytes').get('{}')).toBeGreaterThan(0);
    }
  });
});

describeRedis('Redis gauges', () => {
  it('report Redis up and the bus reliable, and both down once Redis cannot be reached', async () => {
    const target = new URL(inject('redisUrl'));
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    const server = await startTestServer({ env: { REDIS_URL: `redis://127.0.0.1:${String(proxy.port)}` } });
    const gauge = async (name: string) =>
      samples(await (await fetch(server.app.metricsUrl ?? '')).text(), name).get('{}');
    try {
      await expect.poll(() => gauge('parley_redis_up')).toBe(1);
      expect(await gauge('parley_bus_reliable')).toBe(1);
      await proxy.cut();
      await expect.poll(() => gauge('parley_redis_up'), { timeout: 10_000 }).toBe(0);
      await expect.poll(() => gauge('parley_bus_reliable'), { timeout: 10_000 }).toBe(0);
    } finally {
      await server.close();
    }
  }, 30_000);
});
