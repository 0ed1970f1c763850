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
}

/** CPU time (user + system) and resident memory of a process, read from /proc. */
export interface ProcessSample {
  cpuSeconds: number;
  rssBytes: number;
  at: number;
}

/**
 * The real server (`parley start`) as a separate child process, so its CPU and memory can be read from
 * /proc/<pid> and the load generator does not share its event loop. SQLite lives in a temp data dir;
 * PostgreSQL in a fresh `bench_<random>` schema, with Redis under a random key prefix.
 */
export class ServerProcess {
  readonly env: Record<string, string>;
  url = '';
  ca = '';
  #child: ChildProcess | undefined;
  #output = '';

  private constructor(
    readonly options: ServerProcessOptions,
    readonly dataDir: string,
    readonly schema: string | undefined,
  ) {
    this.env = {
      PARLEY_DATA_DIR: dataDir,
      PARLEY_HOST: '127.0.0.1',
      PARLEY_PORT: '0',
      PARLEY_LOG_LEVEL: 'warn',
      // Every simulated client connects from 127.0.0.1: the per-address cap would stop the bench, not measure it.
      PARLEY_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
      ...(schema === undefined
        ? {}
        : {
            DATABASE_URL: options.postgresUrl,
            PARLEY_DATABASE_SCHEMA: schema,
            REDIS_URL: options.redisUrl,
            PARLEY_REDIS_PREFIX: `parley-bench-${randomBytes(4).toString('hex')}:`,
          }),
      ...options.env,
    };
  }

  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-realtime-bench-'));
    const schema = options.storage === 'sqlite' ? undefined : `bench_${randomBytes(6).toString('hex')}`;
    const server = new ServerProcess(options, dataDir, schema);
    await server.#spawn();
    return server;
  }

  get pid(): number {
    const pid = this.#child?.pid;
    if (pid === undefined) throw new Error('the server is not running');
    return pid;
  }

  async #spawn(): Promise<void> {
    const profile = this.options.cpuProfileDir;
    const child = spawn(
      process.execPath,
      [...(profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`]), parleyBin, 'start'],
      { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    const listening = new Promise<void>((resolveListening, reject) => {
      const onData = (chunk: Buffer) => {
        this.#output += chunk.toString();
        const url = /Parley is listening on (https:\/\/[^ ]+) /.exec(this.#output)?.[1];
        const cert = /TLS: self-signed certificate (\S+)/.exec(this.#output)?.[1];
        if (url !== undefined && cert !== undefined) {
          child.stdout.off('data', onData);
          this.url = url;
          this.ca = readFileSync(cert, 'utf8');
          resolveListening();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', (chunk: Buffer) => {
        this.#output += chunk.toString();
      });
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

  /** SIGTERM (a clean shutdown, which also writes the CPU profile), then removes the data. */
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
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** CPU used between two samples, as a percentage of one core (200 % = both cores of this machine). */
export function cpuPercent(from: ProcessSample, to: ProcessSample): number {
  return ((to.cpuSeconds - from.cpuSeconds) / ((to.at - from.at) / 1000)) * 100;
}
