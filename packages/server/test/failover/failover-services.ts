import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';

const run = promisify(execFile);
const REDIS_SERVER = '/usr/bin/redis-server';

/** The newest PostgreSQL server binaries Debian installed (`/usr/lib/postgresql/<major>/bin`), if any. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((major) => existsSync(path.join(root, major, 'bin/initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : path.join(root, majors[0], 'bin');
}

function missingService(): string | undefined {
  if (!existsSync(REDIS_SERVER)) return `${REDIS_SERVER} not found (apt-get install -y redis-server)`;
  if (postgresBinDir() === undefined)
    return 'no /usr/lib/postgresql/*/bin/initdb (apt-get install -y postgresql)';
  return undefined;
}

/**
 * Runs a failover suite when a redis-server and PostgreSQL's binaries are installed: each suite starts its
 * own of both, so it may kill them, and other test runs on the shared servers never meet its nodes. Outside
 * CI a missing one skips the suite with one printed line; with CI=true it fails, because a skipped suite
 * there would hide a regression.
 */
export function describeFailover(title: string, suite: () => void): void {
  const missing = missingService();
  if (missing === undefined) {
    describe(`${title} [failover]`, suite);
    return;
  }
  if (process.env.CI === 'true') {
    describe(`${title} [failover]`, () => {
      it('has its services (CI=true)', () => {
        throw new Error(`CI=true and the failover suite cannot run: ${missing}`);
      });
    });
    return;
  }
  process.stdout.write(`SKIPPING the failover suite "${title}": ${missing}\n`);
  describe.skip(`${title} [failover]`, suite);
}

/** A TCP port on loopback that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Resolves once `child` printed a line matching `ready`; rejects if it exits first or takes too long. */
function untilPrinted(child: ChildProcess, ready: RegExp, what: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      reject(new Error(`${what} did not start within ${timeoutMs} ms: ${output.slice(-2000)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`${what} exited (${code ?? signal ?? '?'}) before it was ready: ${output.slice(-2000)}`),
      );
    });
  });
}

async function killHard(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** A redis-server of the test's own (never the shared one), without persistence, that it may kill. */
export class RedisProcess {
  #child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<RedisProcess> {
    const redis = new RedisProcess(await freePort());
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port, empty; resolves once it accepts connections. */
  async restart(): Promise<void> {
    const child = spawn(REDIS_SERVER, [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    this.#child = child;
    await untilPrinted(child, /Ready to accept connections/, 'redis-server');
  }

  /** SIGKILL: every connection drops at once, and everything it held is gone. */
  async kill(): Promise<void> {
    await killHard(this.#child);
    this.#child = undefined;
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}

/**
 * A PostgreSQL cluster of the test's own (initdb on a free port in a temp dir, trust authentication on
 * loopback), so it can be stopped with `-m immediate` without touching the shared server. As root, the
 * cluster runs as the `postgres` user (PostgreSQL refuses to run as root).
 */
export class ThrowawayPostgres {
  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
    private readonly asUser: string[],
  ) {}

  static async start(): Promise<ThrowawayPostgres> {
    const bin = postgresBinDir();
    if (bin === undefined) throw new Error('no PostgreSQL binaries');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-failover-pg-'));
    const asUser: string[] = [];
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
      asUser.push('runuser', '-u', 'postgres', '--');
    }
    const cluster = new ThrowawayPostgres(bin, dir, await freePort(), asUser);
    await cluster.#run('initdb', ['-D', cluster.#data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await cluster.restart();
    return cluster;
  }

  get #data(): string {
    return path.join(this.dir, 'data');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Runs one of the cluster's tools (as `postgres` when we are root), without blocking the event loop. */
  async #run(tool: string, args: string[]): Promise<void> {
    const binary = path.join(this.bin, tool);
    const [command, ...rest] = this.asUser.length > 0 ? [...this.asUser, binary, ...args] : [binary, ...args];
    await run(command ?? binary, rest);
  }

  /** `pg_ctl start`, waiting until it accepts connections (crash recovery included). */
  async restart(): Promise<void> {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c max_connections=200`;
    await this.#run('pg_ctl', [
      '-D',
      this.#data,
      '-l',
      path.join(this.dir, 'log'),
      '-o',
      options,
      '-w',
      'start',
    ]);
  }

  /** `pg_ctl stop -m immediate`: every backend dies at once, no checkpoint (a crash, as far as data goes). */
  async stopImmediately(): Promise<void> {
    await this.#run('pg_ctl', ['-D', this.#data, '-m', 'immediate', '-w', 'stop']);
  }

  async destroy(): Promise<void> {
    try {
      await this.stopImmediately();
    } catch {
      // Already stopped.
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
