import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newTenantOwner, tokenRequest } from '../support/identity-fixtures.ts';
import { describePrometheus, type Prometheus, promtool, startPrometheus } from '../support/prometheus.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

const root = path.resolve(import.meta.dirname, '../../../..');
const shippedRules = readFileSync(path.join(root, 'deploy/prometheus/parley-alerts.yml'), 'utf8');

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * Debian's Prometheus scrapes a real Parley node through its metrics listener, evaluates the shipped alert
 * rules, and sees the node go down when Parley stops. Intervals are one second (and the node-down `for`
 * shortened) so the whole run stays short; everything else is the shipped rule file.
 */
describePrometheus('Prometheus scraping a real Parley node', () => {
  let server: TestServer;
  let prometheus: Prometheus;
  let serverClosed = false;

  beforeAll(async () => {
    server = await startTestServer();
    const target = new URL(server.app.metricsUrl ?? '').host;
    const rules = shippedRules.replace(
      /(alert: ParleyNodeDown\n(?:.*\n)*?\s+for: )1m/,
      (_match, head: string) => `${head}2s`,
    );
    expect(rules).not.toBe(shippedRules);
    prometheus = await startPrometheus(
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'rule_files: [parley-alerts.yml]',
        'scrape_configs:',
        '  - job_name: parley',
        '    static_configs:',
        `      - targets: ['${target}']`,
      ].join('\n'),
      { 'parley-alerts.yml': rules },
    );
  }, 60_000);

  afterAll(async () => {
    await prometheus.stop();
    if (!serverClosed) await server.close();
  });

  const query = (expression: string) =>
    prometheus.api<{ result: Sample[] }>(`query?query=${encodeURIComponent(expression)}`);

  it('a real scrape passes `promtool check metrics`', async () => {
    await newTenantOwner(server);
    const text = await (await fetch(server.app.metricsUrl ?? '')).text();
    const checked = await promtool(['check', 'metrics'], { input: text });
    expect(checked.output).toBe('');
    expect(checked.code).toBe(0);
  });

  it('Prometheus records the traffic Parley served, by route template and status class', async () => {
    const owner = await newTenantOwner(server);
    for (let index = 0; index < 5; index += 1) await server.request('/readyz');
    const refused = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: owner.email,
      password: 'not the password at all',
    });
    expect(refused.status).toBe(400);
    await expect
      .poll(
        async () =>
          Number(
            (await query('parley_http_requests_total{job="parley",route="/readyz",status_class="2xx"}'))
              .result[0]?.value[1] ?? 0,
          ),
        { timeout: 15_000, interval: 250 },
      )
      .toBeGreaterThanOrEqual(5);
    await expect
      .poll(
        async () =>
          Number((await query('parley_auth_failures_total{factor="password"}')).result[0]?.value[1] ?? 0),
        { timeout: 15_000, interval: 250 },
      )
      .toBeGreaterThanOrEqual(1);
    const up = await query('up{job="parley"}');
    expect(up.result.map((sample) => sample.value[1])).toEqual(['1']);
    const build = await query('parley_build_info');
    expect(build.result[0]?.metric.version).toMatch(/^\d+\.\d+\.\d+/);
    const started = await query('process_start_time_seconds{job="parley"}');
    expect(Number(started.result[0]?.value[1])).toBeGreaterThan(Date.now() / 1000 - 3600);
    // No label anywhere carries a user id, e-mail address or tenant id (tenant labels are opt-in).
    const everything = await query('{job="parley"}');
    const labels = JSON.stringify(everything.result.map((sample) => sample.metric));
    for (const secret of [owner.userId, owner.email, owner.tenantId]) expect(labels).not.toContain(secret);
  }, 40_000);

  it('when Parley stops, the shipped ParleyNodeDown alert fires', async () => {
    await server.close();
    serverClosed = true;
    await expect
      .poll(
        async () => {
          const { alerts } = await prometheus.api<{
            alerts: { labels: Record<string, string>; state: string }[];
          }>('alerts');
          return alerts.find((alert) => alert.labels.alertname === 'ParleyNodeDown')?.state;
        },
        { timeout: 20_000, interval: 250 },
      )
      .toBe('firing');
  }, 30_000);
});
