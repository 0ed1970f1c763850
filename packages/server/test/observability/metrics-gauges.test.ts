import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { backupServiceFor } from '../../src/backup/index.ts';
import { recordBackupAttempt, recordBackupVerify } from '../../src/backup/backup-state.ts';
import { systemClock } from '../../src/clock.ts';
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

describeEachDialect('backup gauges', (dialect) => {
  let server: TestServer;
  const scrape = async () => (await fetch(server.app.metricsUrl ?? '')).text();
  const backupSeries = (text: string) =>
    [...text.matchAll(/^(parley_backup_[a-z_]+)\{tool="(\w+)"\} (\S+)$/gm)].map(([, name, tool, value]) => {
      expect(tool).toBe(dialect === 'sqlite' ? 'embedded' : 'pgbackrest');
      return [name, Number(value)] as [string, number];
    });

  beforeAll(async () => {
    server = await startTestServer({ dialect });
  });
  afterAll(async () => {
    await server.close();
  });

  it('exports no backup series before the first backup, then the recorded outcomes', async () => {
    expect(backupSeries(await scrape())).toEqual([]);
    const { storage } = server.app;
    const takenAt = Date.parse('2026-12-01T03:00:00Z');
    await recordBackupAttempt(storage, { at: takenAt, kind: 'full', errorCode: null, id: 'b1', bytes: 4096 });
    // A failed attempt later keeps the last success (its time and size) and says it failed.
    await recordBackupAttempt(storage, {
      at: takenAt + DAY_MS,
      kind: 'incremental',
      errorCode: 'backup_target_full',
      id: null,
    });
    // One scrape's database reads are shared for a second: wait it out.
    const nextScrape = () => new Promise((resolve) => setTimeout(resolve, 1100));
    await nextScrape();
    let text = await scrape();
    expect(new Map(backupSeries(text))).toEqual(
      new Map([
        ['parley_backup_last_success_timestamp_seconds', takenAt / 1000],
        ['parley_backup_size_bytes', 4096],
        ['parley_backup_last_attempt_success', 0],
      ]),
    );
    await recordBackupVerify(storage, { at: takenAt + 2 * DAY_MS, id: 'b1', ok: false });
    await nextScrape();
    text = await scrape();
    const verified = new Map(backupSeries(text));
    expect(verified.get('parley_backup_last_verify_success')).toBe(0);
    expect(verified.get('parley_backup_last_verify_timestamp_seconds')).toBe((takenAt + 2 * DAY_MS) / 1000);
  });

  it.runIf(dialect === 'sqlite')('reports the size and time of a real backup of this server', async () => {
    const service = backupServiceFor({
      config: server.app.config,
      storage: server.app.storage,
      clock: systemClock,
    });
    const result = await service.create('full');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const text = await scrape();
    const series = new Map(backupSeries(text));
    expect(series.get('parley_backup_size_bytes')).toBe(result.bytes);
    expect(series.get('parley_backup_last_attempt_success')).toBe(1);
    const at = series.get('parley_backup_last_success_timestamp_seconds') ?? 0;
    expect(Math.abs(at - Date.now() / 1000)).toBeLessThan(120);
  });
});
