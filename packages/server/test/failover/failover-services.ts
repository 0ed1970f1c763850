import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';
import {
  freePort,
  initCluster,
  missingClusterBinaries,
  startCluster,
  type ThrowawayCluster,
  type ThrowawayRoot,
  throwawayRoot,
} from '../support/postgres-cluster.ts';

const REDIS_SERVER = '/usr/bin/redis-server';

function missingService(): string | undefined {
  if (!existsSync(REDIS_SERVER)) return `${REDIS_SERVER} not found (apt-get install -y redis-server)`;
  return missingClusterBinaries();
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

const SETTINGS = { fsync: 'on', max_connections: '200' };

/**
 * A PostgreSQL cluster of the test's own (initdb on a free port in a temp dir, trust authentication on
 * loopback), so it can be crashed without touching the shared server; it restarts on the same port and data.
 * fsync stays on: the drills crash it and count what survived.
 */
export class ThrowawayPostgres {
  private constructor(
    private readonly root: ThrowawayRoot,
    private readonly dataDir: string,
    private cluster: ThrowawayCluster,
  ) {}

  static async start(): Promise<ThrowawayPostgres> {
    const root = throwawayRoot('parley-failover-pg-');
    const dataDir = await initCluster(root, {}, 'data');
    return new ThrowawayPostgres(root, dataDir, await startCluster(root, dataDir, SETTINGS));
  }

  get port(): number {
    return this.cluster.port;
  }

  get url(): string {
    return this.cluster.url;
  }

  /** Starts again on the same port and data, waiting until it accepts connections (crash recovery included). */
  async restart(): Promise<void> {
    this.cluster = await startCluster(this.root, this.dataDir, SETTINGS, this.cluster.port);
  }

  /** Immediate shutdown: every backend dies at once, no checkpoint (a crash, as far as data goes). */
  async stopImmediately(): Promise<void> {
    await this.cluster.stopImmediately();
  }

  async destroy(): Promise<void> {
    await this.cluster.stopImmediately();
    this.root.remove();
  }
}
