import type { Registry } from 'prom-client';
import type { Storage } from '../storage/database.ts';
import { createMetrics } from './metrics.ts';
import { registerMetricSources } from './metrics-sources.ts';

/** Every metric a server can export, whatever its configuration: both dialects, Redis and TLS on. */
function catalogueRegistries(): Registry[] {
  const adapters = [
    { name: 'sqlite' },
    { name: 'postgres', pool: { totalCount: 0, idleCount: 0, waitingCount: 0 } },
  ];
  return adapters.map((adapter) => {
    const metrics = createMetrics();
    registerMetricSources(metrics.registry, {
      storage: { adapter } as unknown as Storage,
      dataDir: '.',
      certFile: 'cert.pem',
      redisStatus: () => 'ready',
      busReliable: () => true,
      openSockets: () => 0,
      tenantLabels: false,
      keyRotationDays: 365,
      supportReview: () => Promise.resolve({ overdue: false, lastSignedAt: null, dueAt: null }),
      now: () => 0,
    });
    return metrics.registry;
  });
}

interface MetricRow {
  name: string;
  type: string;
  labels: string;
  help: string;
}

/** The metrics table of docs/monitoring.md, generated from the registry (a test keeps the two equal). */
export function metricsTableMarkdown(): string {
  const rows = new Map<string, MetricRow>();
  for (const registry of catalogueRegistries()) {
    for (const metric of registry.getMetricsAsArray()) {
      const { name, help, type, labelNames } = metric as unknown as {
        name: string;
        help: string;
        type: string;
        labelNames?: string[];
      };
      const labels = (labelNames ?? []).map((label) => `\`${label}\``).join(', ');
      rows.set(name, { name, type, labels: labels || '—', help: help.replaceAll('|', '\\|') });
    }
  }
  const sorted = [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
  return [
    '| Metric | Type | Labels | Meaning |',
    '| --- | --- | --- | --- |',
    ...sorted.map((row) => `| \`${row.name}\` | ${row.type} | ${row.labels} | ${row.help} |`),
  ].join('\n');
}
