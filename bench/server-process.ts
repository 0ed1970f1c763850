import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

/**
 * The server under test: this checkout's, or another checkout's (`PARLEY_BENCH_SERVER_DIR`, e.g. a snapshot of
 * a commit) so a tree that others are editing can still be measured at a known version.
 */
const parleyBin = resolve(
  process.env.PARLEY_BENCH_SERVER_DIR ?? resolve(import.meta.dirname, '..'),
  'packages/server/bin/parley.js',
);
const CLOCK_TICKS_PER_SECOND = 100;

export type BenchStorage = 'sqlite' | 'postgres+redis';

export interface ServerProcessOptions {
  storage: BenchStorage;
  postgresUrl: string;
  redisUrl: string;
  /** Extra environment for the server (limits raised for the run). */
  env: Record<string, string>;
  /** When set, the server runs under `node --cpu-prof` and writes its profile here on exit. */
  cpuProfileDir?: string | undefined;
  /**
   * True (the default): HTTPS and WSS with the self-signed certificate the server makes in its data dir.
   * False: `PARLEY_TLS_MODE=behind-proxy`, plain HTTP and WS (`url` is then `http://…`, `ca` empty).
   */
  tls?: boolean | undefined;
  /** A `taskset -c` CPU list (e.g. `0`) the server is pinned to; unset = any CPU. */
  cpus?: string | undefined;
  /** Serve data prepared beforehand (e.g. a pre-grown database) instead of a fresh, empty one. */
  prepared?: PreparedData | undefined;
}

/**
 * Data made ready for one server run. The server process takes it over: `stop()` removes `dataDir` and then
 * calls `release` (e.g. to drop a database copy), as it removes the temp dir and schema it creates itself.
 */
export interface PreparedData {
  /** `PARLEY_DATA_DIR`: the keys, and on SQLite the database file. */
  dataDir: string;
  /** On PostgreSQL: where Parley's tables are (a database of their own, or a schema of a shared one). */
  postgres?: { databaseUrl: string; schema: string } | undefined;
  /** Leave `dataDir` in place on stop: it is not the run's to remove (e.g. the cache being grown). */
  keep?: boolean | undefined;
  /** Called by `stop()` once the server has exited and `dataDir` is removed. */
  release?: (() => Promise<void>) | undefined;
}

/** CPU time (user + system) and resident memory of a process, read from /proc. */
export interface ProcessSample {
  cpuSeconds: number;
  rssBytes: number;
  at: number;
}

/**
 * The real server (`parley start`) as a separate child process, so its CPU and memory can be read from
 * /proc/<pid> and the load generator does not share its event loop. Unless it is given prepared data, SQLite
 * lives in a temp data dir and PostgreSQL in a fresh `bench_<random>` schema; Redis is always under a random
 * key prefix. `stop()` removes what the run used.
 */
export class ServerProcess {
  readonly env: Record<string, string>;
  /** `https://127.0.0.1:<port>`, or `http://…` without TLS. */
  url = '';
  /** The self-signed certificate to trust (PEM); empty without TLS. */
  ca = '';
  #child: ChildProcess | undefined;
  #output = '';

  private constructor(
    readonly options: ServerProcessOptions,
    readonly dataDir: string,
    /** The schema this process created (and drops on stop); undefined on SQLite and for prepared data. */
    readonly schema: string | undefined,
  ) {
    const postgres =
      options.prepared?.postgres ??
      (schema === undefined ? undefined : { databaseUrl: options.postgresUrl, schema });
    this.env = {
      PARLEY_DATA_DIR: dataDir,
      PARLEY_HOST: '127.0.0.1',
      PARLEY_PORT: '0',
      PARLEY_LOG_LEVEL: 'warn',
      // Every simulated client connects from 127.0.0.1: the per-address cap would stop the bench, not measure it.
      PARLEY_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
      ...(options.tls === false ? { PARLEY_TLS_MODE: 'behind-proxy' } : {}),
      ...(options.storage === 'sqlite' || postgres === undefined
        ? {}
        : {
            DATABASE_URL: postgres.databaseUrl,
            PARLEY_DATABASE_SCHEMA: postgres.schema,
            REDIS_URL: options.redisUrl,
            PARLEY_REDIS_PREFIX: `parley-bench-${randomBytes(4).toString('hex')}:`,
          }),
      ...options.env,
    };
  }

  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    const { prepared } = options;
    if (prepared && options.storage !== 'sqlite' && prepared.postgres === undefined)
      throw new Error('prepared data for PostgreSQL must name its database');
    const dataDir = prepared?.dataDir ?? (await mkdtemp(join(tmpdir(), 'parley-realtime-bench-')));
    const schema =
      options.storage === 'sqlite' || prepared ? undefined : `bench_${randomBytes(6).toString('hex')}`;
    const server = new ServerProcess(options, dataDir, schema);
    try {
      await server.#spawn();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** The WebSocket base URL (`wss://…` or `ws://…`); the realtime endpoint is `${wsUrl}/v1/realtime`. */
  get wsUrl(): string {
    return this.url.replace(/^http/, 'ws');
  }

  get pid(): number {
    const pid = this.#child?.pid;
    if (pid === undefined) throw new Error('the server is not running');
    return pid;
  }

  async #spawn(): Promise<void> {
    const { cpuProfileDir: profile, cpus } = this.options;
    const tls = this.options.tls !== false;
    const node = [
      process.execPath,
      ...(profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`]),
      parleyBin,
      'start',
    ];
    // taskset execs the command in place, so the child's pid (read from /proc) is the server's own.
    const [command = '', ...args] = cpus === undefined ? node : ['taskset', '-c', cpus, ...node];
    const child = spawn(command, args, {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const listening = new Promise<void>((resolveListening, reject) => {
      let listened = false;
      const onData = (chunk: Buffer) => {
        this.#output += chunk.toString();
        if (listened) return;
        const url = /Parley is listening on (https?:\/\/[^ ]+) /.exec(this.#output)?.[1];
        const cert = /TLS: self-signed certificate (\S+)/.exec(this.#output)?.[1];
        if (url !== undefined && (!tls || cert !== undefined)) {
          listened = true;
          child.stdout.off('data', onData);
          this.url = url;
          this.ca = cert === undefined ? '' : readFileSync(cert, 'utf8');
          resolveListening();
        }
      };
      child.stdout.on('data', onData);
      // The banner comes on stderr (stdout carries the JSON logs).
      child.stderr.on('data', onData);
      child.once('exit', (code, signal) => {
        reject(new Error(`the server exited (${code ?? signal ?? '?'}) before listening:\n${this.#output}`));
      });
    });
    await listening;
    // Keep collecting its output (warnings and errors only) so a failed run can show it.
    child.stdout.on('data', (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-20_000);
    });
  }

  /** The end of what the server printed: its start-up lines, then warnings and errors. */
  get output(): string {
    return this.#output;
  }

  /** `parley tenant create` against the same data, as an operator would: the tenant id and setup token. */
  async createTenant(name: string): Promise<{ tenantId: string; ownerSetupToken: string }> {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [parleyBin, 'tenant', 'create', '--name', name],
      { env: { ...process.env, ...this.env } },
    );
    return JSON.parse(stdout) as { tenantId: string; ownerSetupToken: string };
  }

  async sample(): Promise<ProcessSample> {
    const stat = await readFile(`/proc/${this.pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
    return { cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND, rssBytes: rssKb * 1024, at: performance.now() };
  }

  /**
   * SIGTERM (a clean shutdown, which also writes the CPU profile), then removes the data: the temp dir and
   * schema it made, or the prepared data it was given (its dir, then its `release`).
   */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    if (this.schema !== undefined) {
      const client = new pg.Client({ connectionString: this.options.postgresUrl });
      await client.connect();
      try {
        await client.query(`drop schema if exists "${this.schema}" cascade`);
      } finally {
        await client.end();
      }
    }
    if (this.options.prepared?.keep !== true) await rm(this.dataDir, { recursive: true, force: true });
    await this.options.prepared?.release?.();
  }
}

/** CPU used between two samples, as a percentage of one core (200 % = both cores of this machine). */
export function cpuPercent(from: ProcessSample, to: ProcessSample): number {
  return ((to.cpuSeconds - from.cpuSeconds) / ((to.at - from.at) / 1000)) * 100;
}
