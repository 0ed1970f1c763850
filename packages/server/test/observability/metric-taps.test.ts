import { expect, it } from 'vitest';
import type { Bus } from '../../src/bus/bus.ts';
import type { AuditLog } from '../../src/compliance/audit/audit-log.ts';
import type { TenantTx } from '../../src/storage/database.ts';
import { meterAuditedSecurityEvents, meterBus } from '../../src/observability/metric-taps.ts';
import { createMetrics } from '../../src/observability/metrics.ts';

const value = async (metrics: ReturnType<typeof createMetrics>, series: string) => {
  const line = (await metrics.registry.metrics()).split('\n').find((entry) => entry.startsWith(`${series} `));
  return Number(line?.split(' ')[1] ?? Number.NaN);
};

it('counts failed proofs by factor and lockouts from the audit entries that record them', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  const audit = { append: () => Promise.resolve({ id: 'entry', seq: 1 }) } as unknown as AuditLog;
  meterAuditedSecurityEvents(audit, metrics);
  const tx = undefined as unknown as TenantTx; // the fake append never touches it
  const entry = (action: string, reason?: string) => ({
    actor: { type: 'user' as const, id: 'u' },
    action,
    outcome: 'failure' as const,
    ...(reason === undefined ? {} : { details: { reason } }),
  });
  await audit.append(tx, 't', entry('auth.login_failed', 'wrong_password'));
  await audit.append(tx, 't', entry('auth.login_failed', 'wrong_second_factor'));
  await audit.append(tx, 't', entry('auth.account_locked', 'reused_second_factor'));
  await audit.append(tx, 't', entry('auth.mfa_enrollment_failed', 'wrong_code'));
  await audit.append(tx, 't', entry('auth.login_succeeded'));
  expect(await value(metrics, 'parley_auth_failures_total{factor="password"}')).toBe(1);
  expect(await value(metrics, 'parley_auth_failures_total{factor="second_factor"}')).toBe(3);
  expect(await value(metrics, 'parley_auth_lockouts_total')).toBe(1);
});

it('counts bus publishes that fail, and still fails them', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  const failing = {
    publish: () => Promise.reject(new Error('redis away')),
    reliable: false,
  } as unknown as Bus;
  const bus = meterBus(failing, metrics);
  await expect(bus.publish('channel', 'message')).rejects.toThrow('redis away');
  expect(bus.reliable).toBe(false);
  expect(await value(metrics, 'parley_bus_publish_failures_total')).toBe(1);
});

it('labels closes with catalogued codes only: a code a client chose reads "other"', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.realtime.closed(4100);
  metrics.realtime.closed(4999);
  metrics.realtime.closed(3123);
  expect(await value(metrics, 'parley_realtime_socket_closes_total{code="4100"}')).toBe(1);
  expect(await value(metrics, 'parley_realtime_socket_closes_total{code="other"}')).toBe(2);
  expect(await metrics.registry.metrics()).not.toContain('code="4999"');
});
