import { closeCodes } from '@parley/protocol';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { parleyVersion } from '../version.ts';

/**
 * The Prometheus metrics of one server instance, in its own registry (never prom-client's global one), so
 * several servers in one process (tests, two-node tests) each count their own. Every metric is documented
 * in docs/monitoring.md; a test keeps that table equal to this registry.
 *
 * Labels are bounded sets only: route templates (never raw paths), status classes, close codes from the
 * catalogue, error codes from the catalogue, key kinds. Never a tenant name or a user id; a tenant id only on
 * the per-tenant compliance gauges, and only when the operator opts in (`PARLEY_METRICS_TENANT_LABELS`).
 *
 * The per-frame and per-message instruments are label-free or pre-bound children, so the hot path does a
 * counter increment or a histogram bucket search and nothing else: no label hashing, no allocation, no I/O.
 */
export interface ParleyMetrics {
  readonly registry: Registry;
  readonly http: HttpMetrics;
  readonly realtime: RealtimeMetrics;
  readonly database: DatabaseMetrics;
  readonly security: SecurityMetrics;
  readonly bus: { publishFailed(): void };
  readonly audit: AuditMetrics;
}

export interface HttpMetrics {
  /** One finished request: `route` is the route template (`/v1/dialogs/:dialogId`), never the raw path. */
  observe(method: string, route: string, statusCode: number, seconds: number): void;
}

export interface RealtimeMetrics {
  frameIn(): void;
  frameOut(): void;
  closed(code: number): void;
  /** From a send frame's arrival to its ack (the message committed). */
  sendAcked(seconds: number): void;
  /** From a message's commit to this node reading it for its sockets. */
  delivered(seconds: number): void;
}

export interface DatabaseMetrics {
  /** One transaction; `failed` only for errors that are not Parley's own refusals (see storage). */
  transaction(seconds: number, failed: boolean): void;
}

export type AuthFactor = 'password' | 'second_factor';
export type RateLimitSurface = 'http' | 'realtime';

export interface SecurityMetrics {
  authFailed(factor: AuthFactor): void;
  lockedOut(): void;
  rateLimited(surface: RateLimitSurface): void;
}

export interface AuditMetrics {
  /** A pass of the checkpoint job finished; `refused` chains did not verify. */
  verified(atSeconds: number, refused: number): void;
}

/** HTTP latency buckets (seconds): 5 ms to 10 s. */
const httpBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Realtime latency buckets (seconds): 1 ms to 5 s. */
const realtimeBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Transaction latency buckets (seconds): 0.5 ms to 5 s. */
const transactionBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const statusClasses = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** Close codes a label may carry: the standard ones and our catalogue. A client can send any 1000-4999 code. */
const knownCloseCodes = [1000, 1005, 1006, 1011, ...Object.values(closeCodes)];

const nonConformingDefaults = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export interface MetricsOptions {
  /** Sample prom-client's process and Node.js metrics (event-loop lag, heap, RSS, start time). */
  defaultMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): ParleyMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
    // Gauges named like counters: `promtool check metrics` refuses them, and no dashboard needs them.
    for (const name of nonConformingDefaults) registry.removeSingleMetric(name);
  }

  new Gauge({
    name: 'parley_build_info',
    help: 'Always 1; the labels name the Parley and Node.js versions this process runs.',
    labelNames: ['version', 'node_version'],
    registers,
  }).set({ version: parleyVersion, node_version: process.version }, 1);

  return {
    registry,
    http: httpMetrics(registers),
    realtime: realtimeMetrics(registers),
    database: databaseMetrics(registers),
    security: securityMetrics(registers),
    bus: busMetrics(registers),
    audit: auditMetrics(registers),
  };
}

function httpMetrics(registers: Registry[]): HttpMetrics {
  const requests = new Counter({
    name: 'parley_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status class.',
    labelNames: ['method', 'route', 'status_class'],
    registers,
  });
  const duration = new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'Time from receiving an HTTP request to the end of its response, by method and route template.',
    labelNames: ['method', 'route'],
    buckets: httpBuckets,
    registers,
  });
  return {
    observe(method, route, statusCode, seconds) {
      const statusClass = statusClasses[Math.floor(statusCode / 100) - 1] ?? '5xx';
      requests.inc({ method, route, status_class: statusClass });
      duration.observe({ method, route }, seconds);
    },
  };
}

function realtimeMetrics(registers: Registry[]): RealtimeMetrics {
  // Per-frame counts are plain numbers, handed to prom-client only when scraped: prom-client's `inc()`
  // allocates a label object and a result per call, too much for every frame of every socket.
  let received = 0;
  let sent = 0;
  new Counter({
    name: 'parley_realtime_frames_received_total',
    help: 'Realtime frames received from clients (valid or not).',
    registers,
    collect() {
      this.reset();
      this.inc(received);
    },
  });
  new Counter({
    name: 'parley_realtime_frames_sent_total',
    help: 'Realtime frames written to clients.',
    registers,
    collect() {
      this.reset();
      this.inc(sent);
    },
  });
  const closes = new Counter({
    name: 'parley_realtime_socket_closes_total',
    help: 'Realtime sockets closed, by close code (codes outside the catalogue read "other").',
    labelNames: ['code'],
    registers,
  });
  const closeChildren = new Map(knownCloseCodes.map((code) => [code, closes.labels(String(code))]));
  const otherClose = closes.labels('other');
  const sendAck = new Histogram({
    name: 'parley_realtime_send_ack_seconds',
    help: 'Time from a message.send frame reaching the server to its ack (the message committed).',
    buckets: realtimeBuckets,
    registers,
  });
  const delivery = new Histogram({
    name: 'parley_realtime_commit_delivery_seconds',
    help: "Time from a message's commit to this node reading it for delivery to its sockets.",
    buckets: realtimeBuckets,
    registers,
  });
  // Pre-created so the series exist (at 0) before the first close.
  for (const child of closeChildren.values()) child.inc(0);
  return {
    frameIn: () => {
      received += 1;
    },
    frameOut: () => {
      sent += 1;
    },
    closed: (code) => {
      (closeChildren.get(code) ?? otherClose).inc();
    },
    sendAcked: (seconds) => {
      sendAck.observe(seconds);
    },
    delivered: (seconds) => {
      delivery.observe(Math.max(seconds, 0));
    },
  };
}

function databaseMetrics(registers: Registry[]): DatabaseMetrics {
  const duration = new Histogram({
    name: 'parley_db_transaction_duration_seconds',
    help: 'Database transaction latency, from begin to commit or rollback.',
    buckets: transactionBuckets,
    registers,
  });
  const errors = new Counter({
    name: 'parley_db_errors_total',
    help: 'Database transactions that failed with a database or driver error (not a refusal by Parley itself).',
    registers,
  });
  return {
    transaction(seconds, failed) {
      duration.observe(seconds);
      if (failed) errors.inc();
    },
  };
}

function securityMetrics(registers: Registry[]): SecurityMetrics {
  const failures = new Counter({
    name: 'parley_auth_failures_total',
    help: 'Failed proofs of identity by a known account (sign-in, password change, MFA), by factor.',
    labelNames: ['factor'],
    registers,
  });
  const byFactor = { password: failures.labels('password'), second_factor: failures.labels('second_factor') };
  const lockouts = new Counter({
    name: 'parley_auth_lockouts_total',
    help: 'Account lockouts started (a failure that began a back-off lock).',
    registers,
  });
  const refusals = new Counter({
    name: 'parley_rate_limit_refusals_total',
    help: 'Requests and frames refused by a rate limit, by surface (http, realtime).',
    labelNames: ['surface'],
    registers,
  });
  const bySurface = { http: refusals.labels('http'), realtime: refusals.labels('realtime') };
  for (const child of [...Object.values(byFactor), ...Object.values(bySurface)]) child.inc(0);
  return {
    authFailed: (factor) => {
      byFactor[factor].inc();
    },
    lockedOut: () => {
      lockouts.inc();
    },
    rateLimited: (surface) => {
      bySurface[surface].inc();
    },
  };
}

function busMetrics(registers: Registry[]): { publishFailed(): void } {
  const failures = new Counter({
    name: 'parley_bus_publish_failures_total',
    help: 'Fan-out publishes that failed (Redis unreachable); delivery falls back to the database on resume.',
    registers,
  });
  return {
    publishFailed: () => {
      failures.inc();
    },
  };
}

function auditMetrics(registers: Registry[]): AuditMetrics {
  const lastRun = new Gauge({
    name: 'parley_audit_last_verification_timestamp_seconds',
    help: 'When the audit checkpoint job last verified the unsigned tails of the audit chains (Unix time).',
    registers,
  });
  const refusedChains = new Gauge({
    name: 'parley_audit_last_verification_refused_chains',
    help: 'Audit chains whose tail did not verify at the last checkpoint pass (tampering): expected 0.',
    registers,
  });
  return {
    verified(atSeconds, refused) {
      lastRun.set(atSeconds);
      refusedChains.set(refused);
    },
  };
}
