import { Http } from './bench-http.js';
import { standInForAutovacuum } from './autovacuum-stand-in.js';
import { CpuMeter } from './cpu-meter.js';
import { coresOf, pinLoadSide } from './cpu-pinning.js';
import { type DatabaseProcesses, findDatabaseProcesses, serverDatabasePids } from './database-processes.js';
import { startGrownServer } from './grown-database.js';
import { idleScenario } from './idle-sockets.js';
import { capitalized, comparison, round, scenarioFigures } from './realtime-figures.js';
import {
  type RateScenario,
  realtimeOptions as options,
  realtimeServerEnv,
  SCENARIOS,
} from './realtime-options.js';
import type { ServerContext } from './realtime-scenarios.js';
import { measureScenario, type ScenarioOutcome } from './scenario-runner.js';
import type { BenchStorage } from './server-process.js';
import { runOnStorages } from './storage-runs.js';

/** calls-bench.ts takes the HTTP helper from here. */
export { Http } from './bench-http.js';

const rateScenarios = SCENARIOS.filter((name): name is RateScenario => name !== 'idle');

/** One server to measure: a storage, with or without TLS, on a database of `messages`. */
interface ServerRun {
  storage: BenchStorage;
  tls: boolean;
  messages: number;
  /**
   * A server of its own for the idle scenario (fresh database, nothing else measured on it): opening and
   * closing 10,000 TLS sockets leaves the process's C heap fragmented (glibc's malloc slow path was a fifth
   * of a later profile), which would weigh on every scenario measured after it on the same server.
   */
  idle: boolean;
  /** PostgreSQL and Redis when local, in a PostgreSQL run. */
  database: DatabaseProcesses | undefined;
}

/** What the runs of one storage share: the last rate found per scenario (the next search starts there). */
interface StorageMemory {
  found: Map<RateScenario, number>;
}

/** A server started, pinned and metered, ready for scenarios; `close` undoes all of it. */
interface OpenServer {
  context: ServerContext;
  meter: CpuMeter;
  /** For printed lines: `sqlite grown`, `postgres+redis plain fresh`. */
  label: string;
  /** For figures: `sqliteGrown`, `postgresPlainFresh`. */
  prefix: string;
  close: () => Promise<void>;
}

const sizeName = (messages: number) => (messages === 0 ? 'fresh' : 'grown');
/** `sqlite`, `postgres`; `…Plain` without TLS. */
const storagePrefix = (run: Pick<ServerRun, 'storage' | 'tls'>) =>
  `${run.storage === 'sqlite' ? 'sqlite' : 'postgres'}${run.tls ? '' : 'Plain'}`;
const postgresPort = () => Number(new URL(options.postgresUrl).port || 5432);
const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Sessions idle out after the tenant's idle timeout (15 min by default) and would close the sockets of
 * members who only receive; a long run raises it to a day as the owner (an admin setting, not a server limit).
 * The tenant's access logging is set as `PARLEY_BENCH_ACCESS_LOG` says, each run (a grown database is reused):
 * a run meant to measure it must not go on without it.
 */
async function prepareTenant(http: Http, ownerToken: string, label: string): Promise<void> {
  const accessLogging = options.accessLog ? 'on' : 'off';
  const patch = (json: Record<string, unknown>) =>
    http.call<Record<string, unknown>>('/v1/tenant/settings', { method: 'PATCH', token: ownerToken, json });
  await patch({ idleTimeoutSeconds: 86_400 }).catch((error: unknown) => {
    console.log(`realtime: could not raise the session idle timeout (${String(error)})`);
  });
  const settings = await patch({ accessLogging });
  if (settings.accessLogging !== accessLogging)
    throw new Error(
      `realtime: the tenant's access logging is ${String(settings.accessLogging)}, not ${accessLogging}`,
    );
  console.log(`realtime: ${label}: access logging ${accessLogging} (PARLEY_BENCH_ACCESS_LOG)`);
}

/** The machine watched with no load, before a server's scenarios: what the rest of it is doing. */
async function quietCheck(server: OpenServer): Promise<Record<string, number>> {
  if (options.quietSeconds <= 0) return {};
  const before = server.meter.sample();
  await sleep(options.quietSeconds * 1000);
  const usage = server.meter.usage(before, server.meter.sample());
  const serverCore = Number.isNaN(usage.serverCoreOtherPercent)
    ? ''
    : ` (on the server's core ${round(usage.serverCoreOtherPercent, 0)}%)`;
  console.log(
    `realtime: ${server.label}: before any load, over ${options.quietSeconds} s: server ` +
      `${round(usage.serverCpuPercent, 0)}%, database ${round(usage.databaseCpuPercent, 0)}%, everything else ` +
      `${round(usage.noisePercent, 0)}%${serverCore}`,
  );
  return { [`${server.prefix}QuietNoisePercent`]: round(usage.noisePercent, 0) };
}

/** Starts the server of `run` on its grown (or fresh) database, pins the load side and meters them. */
async function openServer(run: ServerRun): Promise<OpenServer> {
  const pin = options.pin;
  const fixture = await startGrownServer({
    postgresUrl: options.postgresUrl,
    redisUrl: options.redisUrl,
    pairs: options.pairs,
    groupSize: options.groupSize,
    cpuProfileDir: options.cpuProfileDir,
    storage: run.storage,
    messages: run.messages,
    tls: run.tls,
    serverEnv: realtimeServerEnv,
    serverCpus: pin.enabled ? pin.serverCpus : undefined,
  });
  const { server } = fixture;
  const label = `${run.storage}${run.tls ? '' : ' plain'} ${sizeName(run.messages)}`;
  console.log(
    `realtime: ${label}: server pid ${server.pid} at ${server.url}${pin.enabled ? ` on CPU ${pin.serverCpus}` : ''}` +
      `, ${fixture.storedMessages.toLocaleString('en-US')} messages stored`,
  );
  const http = new Http(server);
  const readHttp = new Http(server, options.httpConnections);
  let unpin: (() => Promise<void>) | undefined;
  if (pin.enabled) {
    const pinned = await pinLoadSide(pin, server.pid, run.database);
    unpin = pinned.restore;
    console.log(`realtime: ${label}: pinned ${pinned.description} (given back after this server)`);
  } else if (run.database && run.database.notes.length > 0)
    console.log(`realtime: ${run.database.notes.join('; ')}`);
  const meter = new CpuMeter({
    serverPid: server.pid,
    databasePids: (table) =>
      run.database ? serverDatabasePids(run.database, server.pid, table, postgresPort()) : [],
    serverCores: pin.enabled ? coresOf(pin.serverCpus) : undefined,
  });
  return {
    context: { fixture, http, readHttp, options, benchMessages: 0, seeded: false },
    meter,
    label,
    prefix: `${storagePrefix(run)}${capitalized(sizeName(run.messages))}`,
    close: async () => {
      await Promise.all([http.close(), readHttp.close()]);
      await unpin?.();
      await server.stop();
    },
  };
}

/**
 * The chosen scenarios on one server. A search starts at the rate this storage last found for the scenario;
 * the reference run is at the rate the first server of the storage and TLS mode (the fresh one) set.
 */
async function measureServer(
  run: ServerRun,
  memory: StorageMemory,
  referenceRates: Map<RateScenario, number>,
): Promise<{ figures: Record<string, number>; outcomes: Map<RateScenario, ScenarioOutcome> }> {
  const server = await openServer(run);
  const { context, meter, label, prefix } = server;
  const figures: Record<string, number> = { [`${prefix}StoredMessages`]: context.fixture.storedMessages };
  const outcomes = new Map<RateScenario, ScenarioOutcome>();
  const referenceRate = (scenario: RateScenario) => (found: number) => {
    if (options.referenceFraction <= 0) return 0;
    const rate = referenceRates.get(scenario) ?? found * options.referenceFraction;
    referenceRates.set(scenario, rate);
    return rate;
  };
  try {
    await prepareTenant(context.http, context.fixture.users[0]?.token ?? '', label);
    Object.assign(figures, await quietCheck(server));
    if (run.idle) Object.assign(figures, await idleScenario(context, meter, storagePrefix(run)));
    for (const scenario of run.idle ? [] : rateScenarios) {
      if (!options.scenarios.includes(scenario) || (scenario === 'group' && !context.fixture.group)) continue;
      const vacuumed = await standInForAutovacuum(context.fixture.server);
      if (vacuumed !== undefined) console.log(`realtime: ${label}: ${vacuumed}`);
      const known = memory.found.get(scenario);
      const start = { rate: known ?? options.startRates[scenario], informed: known !== undefined };
      const outcome = await measureScenario(context, meter, scenario, label, start, referenceRate(scenario));
      if (outcome.search.rate > 0) memory.found.set(scenario, outcome.search.rate);
      outcomes.set(scenario, outcome);
      Object.assign(figures, scenarioFigures(`${prefix}${capitalized(scenario)}`, outcome, run.storage));
    }
  } catch (error) {
    const output = context.fixture.server.output.slice(-4000);
    console.error(`realtime: ${label} failed; the server's last output:\n${output}`);
    throw error;
  } finally {
    await server.close();
  }
  return { figures, outcomes };
}

/** Each TLS mode on a fresh database, then on the grown one, and the two compared. */
async function benchStorage(storage: BenchStorage, memory: StorageMemory): Promise<Record<string, number>> {
  const database =
    storage === 'postgres+redis'
      ? await findDatabaseProcesses(options.postgresUrl, options.redisUrl)
      : undefined;
  const sizes = options.compareFresh && options.history > 0 ? [0, options.history] : [options.history];
  const figures: Record<string, number> = {};
  for (const tls of options.tls.map((mode) => mode === 'on')) {
    const referenceRates = new Map<RateScenario, number>();
    const measured = [];
    if (options.scenarios.includes('idle'))
      Object.assign(
        figures,
        (await measureServer({ storage, tls, messages: 0, idle: true, database }, memory, referenceRates))
          .figures,
      );
    for (const messages of sizes) {
      const run = { storage, tls, messages, idle: false, database };
      const { figures: own, outcomes } = await measureServer(run, memory, referenceRates);
      Object.assign(figures, own);
      measured.push(outcomes);
    }
    const [fresh, grown] = measured;
    if (sizes.length === 2 && fresh && grown)
      Object.assign(figures, comparison(storagePrefix({ storage, tls }), fresh, grown));
  }
  return figures;
}

/**
 * Realtime figures of issue 11 against the real server as a child process: for each storage (SQLite;
 * PostgreSQL + Redis when reachable), TLS mode and database size (fresh, then grown), the highest rate
 * each scenario passes at — open loop, p99 under the limit, nothing lost — with server CPU, RSS and the
 * machine's noise per run; and idle sockets' memory. The server is pinned to one core and this process,
 * PostgreSQL and Redis to the other. Knobs: `realtime-options.ts`, documented in docs/performance.md.
 */
export async function runRealtimeBench(): Promise<Record<string, number>> {
  const limits = Object.entries(realtimeServerEnv).map(([key, value]) => `${key}=${value}`);
  console.log(`realtime: server limits raised for the run: ${limits.join(', ')}`);
  console.log(
    `realtime: options ${JSON.stringify({ ...options, postgresUrl: undefined, redisUrl: undefined })}`,
  );
  const { enabled, serverCpus, loadCpus } = options.pin;
  console.log(
    enabled
      ? `realtime: each server on CPU ${serverCpus}; the load side on CPU ${loadCpus} while a server is measured`
      : 'realtime: nothing pinned (PARLEY_BENCH_PIN=0)',
  );
  const memories = new Map<BenchStorage, StorageMemory>();
  const bench = (storage: BenchStorage) => {
    const memory = memories.get(storage) ?? { found: new Map() };
    memories.set(storage, memory);
    return benchStorage(storage, memory);
  };
  return runOnStorages(
    'realtime',
    'PARLEY_BENCH_REALTIME_STORAGES',
    options.storages,
    options.postgresUrl,
    bench,
  );
}
