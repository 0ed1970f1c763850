import type { BenchStorage } from './server-process.js';

const env = process.env;

/** The scenarios, in the order they run on each server (idle first, before load has grown the heap). */
export const SCENARIOS = ['idle', 'pairs', 'group', 'resume', 'history', 'search'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** Scenarios whose highest passing rate is searched. */
export type RateScenario = Exclude<ScenarioName, 'idle'>;

/** `PARLEY_BENCH_QUICK=1`: shorter everything, for checking the bench itself rather than the server. */
const quick = env.PARLEY_BENCH_QUICK === '1';

function numberFrom(name: string, fallback: number, quickFallback = fallback): number {
  const value = Number(env[name] ?? (quick ? quickFallback : fallback));
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
  return value;
}

function listFrom<T extends string>(name: string, fallback: string, allowed: readonly T[]): T[] {
  const values = (env[name] ?? fallback).split(',').map((value) => value.trim());
  const unknown = values.filter((value) => !(allowed as readonly string[]).includes(value));
  if (unknown.length > 0)
    throw new Error(`${name}: ${unknown.join(', ')} unknown; choose from ${allowed.join(', ')}`);
  return values as T[];
}

/** `pairs:400,group:80` → a rate per scenario. */
function ratesFrom(name: string): Partial<Record<RateScenario, number>> {
  const rates: Partial<Record<RateScenario, number>> = {};
  for (const entry of (env[name] ?? '').split(',').filter(Boolean)) {
    const [scenario = '', rate = ''] = entry.split(':');
    if (!SCENARIOS.includes(scenario as ScenarioName) || scenario === 'idle' || !(Number(rate) > 0))
      throw new Error(`${name}: '${entry}' is not scenario:rate`);
    rates[scenario as RateScenario] = Number(rate);
  }
  return rates;
}

const flag = (name: string, fallback: boolean) => (env[name] === undefined ? fallback : env[name] !== '0');

/** Every knob of the realtime bench, from the environment (documented in docs/performance.md). */
export const realtimeOptions = {
  quick,
  postgresUrl: env.PARLEY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: env.PARLEY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  storages: listFrom<BenchStorage>('PARLEY_BENCH_REALTIME_STORAGES', 'sqlite,postgres+redis', [
    'sqlite',
    'postgres+redis',
  ]),
  scenarios: listFrom('PARLEY_BENCH_REALTIME_SCENARIOS', SCENARIOS.join(','), SCENARIOS),
  /** Messages the database is grown to before measuring. */
  history: numberFrom('PARLEY_BENCH_HISTORY', 1_000_000, 20_000),
  /** Also measure a fresh database (grown to 0), first, and print the difference. */
  compareFresh: flag('PARLEY_BENCH_COMPARE_FRESH', true),
  tls: listFrom('PARLEY_BENCH_TLS', 'on', ['on', 'off']),
  pin: {
    enabled: flag('PARLEY_BENCH_PIN', true),
    serverCpus: env.PARLEY_BENCH_SERVER_CPUS ?? '0',
    loadCpus: env.PARLEY_BENCH_LOAD_CPUS ?? '1',
  },
  pairs: numberFrom('PARLEY_BENCH_PAIRS', 100),
  groupSize: numberFrom('PARLEY_BENCH_GROUP_SIZE', 50),
  pass: {
    p99LimitMs: numberFrom('PARLEY_BENCH_P99_LIMIT_MS', 100),
    minSentPercent: numberFrom('PARLEY_BENCH_MIN_SENT_PERCENT', 98),
  },
  trial: {
    warmupSeconds: numberFrom('PARLEY_BENCH_WARMUP_SECONDS', 1, 0.5),
    drainSeconds: numberFrom('PARLEY_BENCH_DRAIN_SECONDS', 3, 2),
    settleSeconds: numberFrom('PARLEY_BENCH_SETTLE_SECONDS', 30, 10),
  },
  search: {
    shortSeconds: numberFrom('PARLEY_BENCH_TRIAL_SECONDS', 3, 2),
    confirmSeconds: numberFrom('PARLEY_BENCH_CONFIRM_SECONDS', 10, 4),
    resolution: numberFrom('PARLEY_BENCH_RESOLUTION_PERCENT', 5, 10) / 100,
    maxTrials: numberFrom('PARLEY_BENCH_MAX_TRIALS', 14, 10),
    confirmAttempts: 3,
    confirmStep: 0.1,
    minRate: 1,
  },
  startRates: {
    pairs: 200,
    group: 100,
    resume: 100,
    history: 200,
    search: 100,
    ...ratesFrom('PARLEY_BENCH_START_RATES'),
  } satisfies Record<RateScenario, number>,
  /** Scenarios measured at one fixed rate (one confirm-length run) instead of searched. */
  fixedRates: ratesFrom('PARLEY_BENCH_FIXED_RATES'),
  /** A run at this fraction of the fresh database's rate on both databases, for p99 at one common rate; 0: off. */
  referenceFraction: numberFrom('PARLEY_BENCH_REFERENCE_FRACTION', 0.5),
  /** Trials with more than this % of one core used by others on the server's core are flagged NOISY. */
  noiseLimitPercent: numberFrom('PARLEY_BENCH_NOISE_LIMIT_PERCENT', 10),
  /** Seconds the machine is watched, unloaded, before each server's scenarios (its noise is printed). */
  quietSeconds: numberFrom('PARLEY_BENCH_QUIET_SECONDS', 3, 1),
  resumeMissed: numberFrom('PARLEY_BENCH_RESUME_MISSED', 20),
  historyPageSize: numberFrom('PARLEY_BENCH_HISTORY_PAGE', 50),
  httpConnections: numberFrom('PARLEY_BENCH_HTTP_CONNECTIONS', 32),
  /** On a database with less, each pair's dialog gets this many messages before resume, history and search. */
  seedMessages: numberFrom('PARLEY_BENCH_SEED_MESSAGES', 200, 100),
  idleConnections: numberFrom('PARLEY_BENCH_IDLE_CONNECTIONS', 10_000, 2000),
  idleUsers: numberFrom('PARLEY_BENCH_IDLE_USERS', 100),
  idleSeconds: numberFrom('PARLEY_BENCH_IDLE_SECONDS', 5, 2),
  cpuProfileDir: env.PARLEY_BENCH_CPU_PROFILE_DIR,
  /**
   * `PARLEY_BENCH_ACCESS_LOG=1`: the bench tenant logs who read what (HIPAA access logging, issue 17 point 6),
   * so every delivery, history page and search is recorded; unset or 0 turns it off explicitly. Run the bench
   * once each way to measure what it costs.
   */
  accessLog: flag('PARLEY_BENCH_ACCESS_LOG', false),
};

export type RealtimeOptions = typeof realtimeOptions;

/**
 * Limits raised for the run (printed): the default per-socket frame rate (50/s) and per-user send budget
 * would throttle a bench sender long before the server is busy, and the node-wide connection cap (10,000)
 * would refuse the idle scenario. The per-address cap is raised for every bench in server-process.ts.
 */
export const realtimeServerEnv = {
  PARLEY_REALTIME_FRAMES_PER_SECOND: '10000',
  PARLEY_SEND_RATE_PER_SECOND: '1000000',
  PARLEY_SEND_BURST: '1000000',
  PARLEY_MAX_CONNECTIONS: '1000000',
};
