import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { metricsTableMarkdown } from '../../src/observability/metrics-table.ts';
import { json, newTenantOwner, tokenRequest } from '../support/identity-fixtures.ts';
import { openSocket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

const repoRoot = path.resolve(import.meta.dirname, '../../../..');

/** Compares cell by cell: Prettier pads the columns of the committed table. */
const cells = (markdown: string) =>
  markdown
    .split('\n')
    .filter((line) => !/^\|[\s|-]+\|$/.test(line))
    .map((line) => line.split(/(?<!\\)\|/).map((cell) => cell.trim()));

/** One sample's value from an exposition text (0 when absent). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((entry) => entry.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

it('docs/monitoring.md lists exactly the metrics the registry holds', () => {
  const doc = readFileSync(path.join(repoRoot, 'docs/monitoring.md'), 'utf8');
  const table = /<!-- metrics-table:start -->\s*([\s\S]*?)\s*<!-- metrics-table:end -->/.exec(doc)?.[1];
  expect(
    table,
    'docs/monitoring.md must hold the generated table between metrics-table markers',
  ).toBeDefined();
  expect(cells(table ?? '')).toEqual(cells(metricsTableMarkdown()));
});

it('each server has its own registry: two in one process count their own requests', async () => {
  const first = createMetrics({ defaultMetrics: false });
  const second = createMetrics({ defaultMetrics: false });
  first.http.observe('GET', '/livez', 200, 0.001);
  expect(await first.registry.metrics()).toContain('route="/livez"');
  expect(await second.registry.metrics()).not.toContain('route="/livez"');
});

describe('the metrics listener', () => {
  let server: TestServer;
  const scrape = async (headers: Record<string, string> = {}) => {
    const response = await fetch(server.app.metricsUrl ?? '', { headers });
    return { status: response.status, text: await response.text() };
  };

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('listens on loopback, apart from the API port, and the API does not serve /metrics', async () => {
    const metricsUrl = new URL(server.app.metricsUrl ?? '');
    expect(metricsUrl.hostname).toBe('127.0.0.1');
    expect(metricsUrl.port).not.toBe(new URL(server.url).port);
    expect((await server.request('/metrics')).status).toBe(404);
    expect((await fetch(new URL('/anything', metricsUrl))).status).toBe(404);
  });

  it('counts requests by route template and realtime traffic, with no id, address or tenant in a label', async () => {
    const owner = await newTenantOwner(server);
    const created = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Ops', memberIds: [] }, owner.accessToken),
    );
    expect(created.status).toBe(201);
    const dialogId = created.json<{ id: string }>().id;
    await server.request(`/v1/dialogs/${dialogId}`, {
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: owner.email,
      password: 'wrong wrong wrong wrong',
    });
    const socket = await openSocket(server, owner.accessToken);
    const clientId = randomBytes(8).toString('hex');
    socket.send({ type: 'message.send', id: clientId, dialogId, body: 'hello metrics' });
    await socket.next((frame) => frame.type === 'ack' && frame.id === clientId);
    socket.ws.close();
    await expect
      .poll(async () => sample((await scrape()).text, 'parley_realtime_send_ack_seconds_count'))
      .toBe(1);
    const { text } = await scrape();
    expect(text).toContain(
      'parley_http_requests_total{method="GET",route="/v1/dialogs/:dialogId",status_class="2xx"} 1',
    );
    expect(sample(text, 'parley_realtime_frames_received_total')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'parley_realtime_frames_sent_total')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'parley_auth_failures_total{factor="password"}')).toBe(1);
    expect(sample(text, 'parley_db_transaction_duration_seconds_count')).toBeGreaterThan(0);
    expect(sample(text, 'parley_key_age_seconds{kind="master"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'parley_tls_certificate_expiry_timestamp_seconds')).toBeGreaterThan(
      Date.now() / 1000,
    );
    for (const secret of [dialogId, owner.userId, owner.email, owner.tenantId, 'Acme'])
      expect(text).not.toContain(secret);
  });
});

/*
 * Attack: an outsider on the network scrapes /metrics to learn traffic patterns, versions and tenant
 * activity. Off loopback the listener needs a token, and a scrape without it (or with a wrong one of the
 * same length) learns nothing but 401.
 */
describe('the metrics listener with a scrape token', () => {
  const token = randomBytes(32).toString('hex');
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { PARLEY_METRICS_TOKEN: token } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('refuses scrapes without the token or with a wrong one, and serves the one that has it', async () => {
    const url = server.app.metricsUrl ?? '';
    for (const headers of [
      {},
      { authorization: `Bearer ${randomBytes(32).toString('hex')}` },
      { authorization: token },
    ] as Record<string, string>[]) {
      const refused = await fetch(url, { headers });
      expect(refused.status).toBe(401);
      expect(await refused.text()).not.toContain('parley_');
    }
    const allowed = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain('parley_build_info');
    expect(server.logs.text()).not.toContain(token);
  });

  it('refuses to start a metrics listener off loopback without a token', () => {
    expect(() => loadConfig({ PARLEY_METRICS_HOST: '0.0.0.0' })).toThrow(ConfigError);
    expect(() => loadConfig({ PARLEY_METRICS_HOST: '0.0.0.0', PARLEY_METRICS_TOKEN: token })).not.toThrow();
    expect(() => loadConfig({ PARLEY_METRICS_HOST: '::1' })).not.toThrow();
  });
});
