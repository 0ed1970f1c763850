import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Gauge, type Registry } from 'prom-client';
import { type BackupState, readBackupState } from '../backup/backup-state.ts';
import { openStatuses } from '../compliance/gdpr/dsr-store.ts';
import type { Storage } from '../storage/database.ts';

/**
 * Gauges read when Prometheus scrapes, not kept up to date on any request path: database state (audit tails,
 * key ages, data-subject requests, pool, WAL), Redis state and the certificate. A scrape every 15 s costs a
 * handful of small queries; the request and message paths pay nothing.
 */
export interface MetricSources {
  storage: Storage;
  /** SQLite only: the directory of `parley.db` (its `-wal` file is measured). */
  dataDir: string;
  /** The served certificate file (unset behind a TLS-terminating proxy). */
  certFile?: string | undefined;
  /** The Redis connection's state, when Redis is configured. */
  redisStatus?: (() => string) | undefined;
  /** False while the fan-out bus may be missing messages. */
  busReliable: () => boolean;
  openSockets: () => number;
  /** Label the per-tenant compliance gauges with the tenant id (operator opt-in; ids only, never names). */
  tenantLabels: boolean;
  keyRotationDays: number;
  /** The periodic review of support access (compliance/support-access/): overdue, last signed, due. */
  supportReview?: ((now: number) => Promise<SupportReviewGaugeState>) | undefined;
  now: () => number;
}

/** What the support review gauges show. */
export interface SupportReviewGaugeState {
  overdue: boolean;
  lastSignedAt: number | null;
  dueAt: number | null;
}

const DAY_SECONDS = 86_400;
/** A database-backed gauge not read within this time is left out of the scrape. */
const COLLECT_TIMEOUT_MS = 2000;

/** Per-tenant values, summed (or reduced) into one series unless the operator opted into tenant labels. */
function setPerTenant(
  gauge: Gauge<'tenant_id'>,
  perTenant: readonly { tenantId: string; value: number }[],
  tenantLabels: boolean,
  reduce: (values: number[]) => number | undefined,
): void {
  gauge.reset();
  if (tenantLabels) {
    for (const { tenantId, value } of perTenant) gauge.set({ tenant_id: tenantId }, value);
    return;
  }
  const reduced = reduce(perTenant.map((entry) => entry.value));
  if (reduced !== undefined) gauge.set(reduced);
}

/** A gauge of one value per tenant, read once per scrape by `read` and set through `setPerTenant`. */
function perTenantGauge<T extends { tenantId: string }>(
  registers: Registry[],
  tenantLabels: boolean,
  metric: { name: string; help: string },
  read: () => Promise<readonly T[]>,
  value: (entry: T) => number,
  reduce: (values: number[]) => number | undefined,
): void {
  new Gauge({
    ...metric,
    labelNames: ['tenant_id'],
    registers,
    collect: guarded(async function (this: Gauge<'tenant_id'>) {
      const perTenant = (await read()).map((entry) => ({ tenantId: entry.tenantId, value: value(entry) }));
      setPerTenant(this, perTenant, tenantLabels, reduce);
    }),
  });
}

/**
 * A collect function that reads the database: when it cannot (the database is away), its gauge reports
 * nothing rather than a stale value, and the rest of the scrape still answers.
 */
function guarded<G extends Gauge>(collect: (this: G) => Promise<void>): (this: G) => Promise<void> {
  return async function (this: G) {
    let timer: NodeJS.Timeout | undefined;
    // A database that hangs must not hang the scrape: Prometheus would take the whole node for down.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error('timeout'));
      }, COLLECT_TIMEOUT_MS);
    });
    try {
      await Promise.race([collect.call(this), timeout]);
    } catch {
      this.reset();
    } finally {
      clearTimeout(timer);
    }
  };
}

/** The same result for calls within a second of each other: the gauges of one scrape share one query. */
function onePerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let last: { at: number; result: Promise<T> } | undefined;
  return () => {
    const now = performance.now();
    if (!last || now - last.at > 1000) last = { at: now, result: read() };
    return last.result;
  };
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const min = (values: number[]) => (values.length === 0 ? undefined : Math.min(...values));
const max = (values: number[]) => (values.length === 0 ? 0 : Math.max(...values));

export function registerMetricSources(registry: Registry, sources: MetricSources): void {
  const registers = [registry];
  const { storage, tenantLabels } = sources;
  const seconds = (ms: number) => Math.round(ms / 1000);

  new Gauge({
    name: 'parley_realtime_open_sockets',
    help: 'Realtime (WebSocket) connections open on this node.',
    registers,
    collect() {
      this.set(sources.openSockets());
    },
  });
  new Gauge({
    name: 'parley_bus_reliable',
    help: '1 while the fan-out bus delivers every message; 0 while this node may be missing some (Redis away).',
    registers,
    collect() {
      this.set(sources.busReliable() ? 1 : 0);
    },
  });
  const { redisStatus } = sources;
  if (redisStatus)
    new Gauge({
      name: 'parley_redis_up',
      help: "1 while this node's Redis command connection is ready, else 0 (only when REDIS_URL is set).",
      registers,
      collect() {
        this.set(redisStatus() === 'ready' ? 1 : 0);
      },
    });

  registerDatabaseGauges(registers, sources);

  // One query serves both gauges of a pair: each gauge's collect reads the same scrape's result.
  const tails = onePerScrape(() => auditTails(storage, sources.now()));
  perTenantGauge(
    registers,
    tenantLabels,
    {
      name: 'parley_audit_unsigned_entries',
      help: 'Audit entries written since the last signed checkpoint of their chain (summed over chains).',
    },
    tails,
    (tail) => tail.unsigned,
    sum,
  );
  perTenantGauge(
    registers,
    tenantLabels,
    {
      name: 'parley_audit_oldest_unsigned_entry_age_seconds',
      help: 'Age of the oldest audit entry not yet covered by a signed checkpoint (0 when every entry is).',
    },
    tails,
    (tail) => seconds(tail.oldestUnsignedAgeMs),
    max,
  );

  const requests = onePerScrape(() => openDsrs(storage));
  perTenantGauge(
    registers,
    tenantLabels,
    {
      name: 'parley_dsr_open_requests',
      help: 'Data-subject requests (GDPR Art. 15-21) received and not yet closed.',
    },
    requests,
    (entry) => entry.open,
    sum,
  );
  perTenantGauge(
    registers,
    tenantLabels,
    {
      name: 'parley_dsr_nearest_deadline_timestamp_seconds',
      help: 'The nearest deadline (extended when extended) of an open data-subject request, Unix time; absent when none is open.',
    },
    requests,
    (entry) => seconds(entry.nearestDue),
    min,
  );

  const tasks = onePerScrape(() => scheduledTasks(storage));
  new Gauge({
    name: 'parley_scheduled_task_lag_seconds',
    help: 'How far behind its schedule each scheduled task is (retention sweeps, export expiry, …): 0 when not yet due.',
    labelNames: ['task'],
    registers,
    collect: guarded(async function (this: Gauge<'task'>) {
      const rows = await tasks();
      this.reset();
      for (const row of rows)
        this.set({ task: row.name }, Math.max(seconds(sources.now() - row.next_run_at), 0));
    }),
  });
  new Gauge({
    name: 'parley_scheduled_task_last_success',
    help: '1 when the last run of each scheduled task succeeded, 0 when it failed (absent before its first run).',
    labelNames: ['task'],
    registers,
    collect: guarded(async function (this: Gauge<'task'>) {
      const rows = await tasks();
      this.reset();
      for (const row of rows)
        if (row.last_outcome !== null) this.set({ task: row.name }, row.last_outcome === 'succeeded' ? 1 : 0);
    }),
  });

  registerBackupGauges(
    registers,
    storage.adapter.name === 'sqlite' ? 'embedded' : 'pgbackrest',
    onePerScrape(() => readBackupState(storage)),
  );

  new Gauge({
    name: 'parley_key_rotation_period_seconds',
    help: 'How old a key may grow before it is due for rotation (PARLEY_KEY_ROTATION_DAYS).',
    registers,
  }).set(sources.keyRotationDays * DAY_SECONDS);
  new Gauge({
    name: 'parley_key_age_seconds',
    help: 'Age of the oldest key in use of each kind: master, signing, and the oldest current tenant data or index key.',
    labelNames: ['kind'],
    registers,
    collect: guarded(async function (this: Gauge<'kind'>) {
      const times = await keyCreationTimes(storage);
      this.reset();
      for (const [kind, createdAt] of Object.entries(times))
        if (createdAt !== undefined) this.set({ kind }, seconds(sources.now() - createdAt));
    }),
  });

  new Gauge({
    name: 'parley_risk_reviews_overdue',
    help: 'Risks of the risk register (not closed) past their review date (reviews are at least yearly).',
    registers,
    collect: guarded(async function (this: Gauge) {
      this.set(await overdueRiskReviews(storage, sources.now()));
    }),
  });

  const { supportReview } = sources;
  // Two small queries per gauge, asked afresh on each scrape.
  if (supportReview) registerSupportReviewGauges(registers, () => supportReview(sources.now()));

  const { certFile } = sources;
  if (certFile) {
    let cached: { mtimeMs: number; expiresAt: number } | undefined;
    new Gauge({
      name: 'parley_tls_certificate_expiry_timestamp_seconds',
      help: 'When the served TLS certificate expires (Unix time); re-read when the file changes.',
      registers,
      collect() {
        const { mtimeMs } = statSync(certFile);
        if (cached?.mtimeMs !== mtimeMs) {
          const certificate = new X509Certificate(readFileSync(certFile));
          cached = { mtimeMs, expiresAt: Date.parse(certificate.validTo) };
        }
        this.set(seconds(cached.expiresAt));
      },
    });
  }
}

/**
 * The latest backup outcomes (docs/backups.md) as the shipped rules ParleyBackupTooOld and
 * ParleyBackupVerifyFailed read them; each series is absent until its first event (no backup, no verify yet).
 */
function registerBackupGauges(
  registers: Registry[],
  tool: 'embedded' | 'pgbackrest',
  state: () => Promise<BackupState | undefined>,
): void {
  // The `tool` label also keeps an unset series absent (prom-client gives a label-less gauge a 0).
  const gauge = (name: string, help: string, value: (state: BackupState) => number | null) =>
    new Gauge({
      name,
      help: `${help} Label tool: embedded (SQLite) or pgbackrest (PostgreSQL).`,
      labelNames: ['tool'],
      registers,
      collect: guarded(async function (this: Gauge<'tool'>) {
        const current = await state();
        const measured = current === undefined ? null : value(current);
        this.reset();
        if (measured !== null) this.set({ tool }, measured);
      }),
    });
  const unix = (ms: number | null) => (ms === null ? null : Math.round(ms / 1000));
  gauge(
    'parley_backup_last_success_timestamp_seconds',
    'When the last successful backup (full or incremental) was taken, Unix time.',
    (current) => unix(current.lastSuccessAt),
  );
  gauge(
    'parley_backup_size_bytes',
    'Stored (encrypted) size of the last successful backup; an incremental counts its own files only.',
    (current) => current.lastSuccessBytes,
  );
  gauge(
    'parley_backup_last_attempt_success',
    '1 when the latest backup attempt succeeded, 0 when it failed (target full or unwritable, key unreadable, …).',
    (current) => (current.lastOutcome === 'succeeded' ? 1 : 0),
  );
  gauge(
    'parley_backup_last_verify_success',
    '1 when the latest `parley backup verify` passed, 0 when it failed.',
    (current) => (current.lastVerifyOk === null ? null : current.lastVerifyOk ? 1 : 0),
  );
  gauge(
    'parley_backup_last_verify_timestamp_seconds',
    'When the latest `parley backup verify` ran, Unix time.',
    (current) => unix(current.lastVerifyAt),
  );
}

/**
 * The periodic review of support access (docs/security.md, "Periodic review"), as the shipped rule
 * ParleySupportReviewOverdue reads it. The timestamps are absent until there is one.
 */
function registerSupportReviewGauges(
  registers: Registry[],
  state: () => Promise<SupportReviewGaugeState>,
): void {
  new Gauge({
    name: 'parley_support_review_overdue',
    help: '1 when no signed review of support access covers up to within PARLEY_SUPPORT_REVIEW_DAYS of now, else 0.',
    registers,
    collect: guarded(async function (this: Gauge) {
      this.set((await state()).overdue ? 1 : 0);
    }),
  });
  const timestamp = (
    name: string,
    help: string,
    value: (current: SupportReviewGaugeState) => number | null,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['review'],
      registers,
      collect: guarded(async function (this: Gauge<'review'>) {
        const measured = value(await state());
        this.reset();
        // The label keeps an unset series absent (prom-client gives a label-less gauge a 0).
        if (measured !== null) this.set({ review: 'support_access' }, Math.round(measured / 1000));
      }),
    });
  timestamp(
    'parley_support_review_last_signed_timestamp_seconds',
    'When a security officer last signed a review of support access, Unix time (absent before the first).',
    (current) => current.lastSignedAt,
  );
  timestamp(
    'parley_support_review_due_timestamp_seconds',
    'When the next review of support access falls due, Unix time (absent while there is no staff account).',
    (current) => current.dueAt,
  );
}

function registerDatabaseGauges(registers: Registry[], sources: MetricSources): void {
  const { adapter } = sources.storage;
  const pool = 'pool' in adapter ? (adapter.pool as PoolCounts) : undefined;
  if (pool) {
    const connections = new Gauge({
      name: 'parley_db_pool_connections',
      help: 'PostgreSQL pool connections by state: in_use, idle (PostgreSQL only).',
      labelNames: ['state'],
      registers,
      collect() {
        connections.set({ state: 'in_use' }, pool.totalCount - pool.idleCount);
        connections.set({ state: 'idle' }, pool.idleCount);
      },
    });
    new Gauge({
      name: 'parley_db_pool_waiting_requests',
      help: 'Queries waiting for a free PostgreSQL pool connection (PostgreSQL only).',
      registers,
      collect() {
        this.set(pool.waitingCount);
      },
    });
    return;
  }
  const wal = path.join(sources.dataDir, 'parley.db-wal');
  new Gauge({
    name: 'parley_sqlite_wal_bytes',
    help: 'Size of the SQLite write-ahead log (SQLite only); it should shrink back after checkpoints.',
    registers,
    collect() {
      try {
        this.set(statSync(wal).size);
      } catch {
        this.set(0); // no WAL file: nothing written since the last checkpoint closed it
      }
    },
  });
}

interface PoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

interface AuditTail {
  tenantId: string;
  unsigned: number;
  oldestUnsignedAgeMs: number;
}

async function auditTails(storage: Storage, now: number): Promise<AuditTail[]> {
  return storage.withSystem(async (tx) => {
    const heads = await tx
      .selectFrom('audit_heads as h')
      .leftJoin('audit_checkpoints as c', 'c.tenant_id', 'h.tenant_id')
      .select(['h.tenant_id', 'h.seq'])
      .select((eb) => eb.fn.coalesce(eb.fn.max('c.seq'), eb.lit(0)).as('signed'))
      .groupBy(['h.tenant_id', 'h.seq'])
      .execute();
    const tails: AuditTail[] = [];
    for (const head of heads) {
      const signed = head.signed;
      const unsigned = head.seq - signed;
      if (unsigned <= 0) {
        tails.push({ tenantId: head.tenant_id, unsigned: 0, oldestUnsignedAgeMs: 0 });
        continue;
      }
      const first = await tx
        .selectFrom('audit_log')
        .select('occurred_at')
        .where('tenant_id', '=', head.tenant_id)
        .where('seq', '=', signed + 1)
        .executeTakeFirst();
      const oldest = first ? first.occurred_at : now;
      tails.push({ tenantId: head.tenant_id, unsigned, oldestUnsignedAgeMs: Math.max(now - oldest, 0) });
    }
    return tails;
  });
}

/** How many open risks are past their review date: one count over the small `risks` register. */
async function overdueRiskReviews(storage: Storage, now: number): Promise<number> {
  const row = await storage.withSystem((tx) =>
    tx
      .selectFrom('risks')
      .select((eb) => eb.fn.countAll().as('overdue'))
      .where('status', '!=', 'closed')
      .where('next_review_at', '<', now)
      .executeTakeFirst(),
  );
  return Number(row?.overdue ?? 0);
}

async function openDsrs(storage: Storage): Promise<{ tenantId: string; open: number; nearestDue: number }[]> {
  const rows = await storage.withSystem((tx) =>
    tx
      .selectFrom('data_subject_requests')
      .where('status', 'in', openStatuses)
      .select('tenant_id')
      .select((eb) => eb.fn.countAll().as('open'))
      .select((eb) => eb.fn.min(eb.fn.coalesce('extended_until', 'deadline_at')).as('nearest'))
      .groupBy('tenant_id')
      .execute(),
  );
  return rows.map((row) => ({
    tenantId: row.tenant_id,
    open: Number(row.open),
    nearestDue: row.nearest,
  }));
}

/** Task names are fixed in code (`retention.sweep`, …): a bounded label set. */
function scheduledTasks(storage: Storage) {
  return storage.withSystem((tx) =>
    tx.selectFrom('scheduled_tasks').select(['name', 'next_run_at', 'last_outcome']).execute(),
  );
}

async function keyCreationTimes(storage: Storage): Promise<Record<string, number | undefined>> {
  return storage.withSystem(async (tx) => {
    const master = await tx
      .selectFrom('master_key_checks')
      .select('created_at')
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    const signing = await tx
      .selectFrom('signing_keys')
      .where('retired_at', 'is', null)
      .select((eb) => eb.fn.max('created_at').as('created_at'))
      .executeTakeFirst();
    // Per tenant and purpose the current key is the newest; the oldest of those is the most overdue.
    const current = await tx
      .selectFrom('tenant_keys')
      .select(['purpose'])
      .select((eb) => eb.fn.max('created_at').as('created_at'))
      .groupBy(['tenant_id', 'purpose'])
      .execute();
    const oldestCurrent = (purpose: string) => {
      const times = current.filter((row) => row.purpose === purpose).map((row) => row.created_at);
      return times.length === 0 ? undefined : Math.min(...times);
    };
    const number = (value: unknown) => (value == null ? undefined : Number(value));
    return {
      master: number(master?.created_at),
      signing: number(signing?.created_at),
      tenant_data: oldestCurrent('data'),
      tenant_index: oldestCurrent('index'),
    };
  });
}
