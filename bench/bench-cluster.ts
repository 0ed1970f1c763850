import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * A throw-away PostgreSQL cluster for benchmarks (initdb on a free loopback port, never the shared server).
 * The same logic as packages/server/test/support/throwaway-postgres.ts, which cannot be imported here: it
 * imports vitest, and vitest refuses to load outside its runner.
 */

const run = promisify(execFile);

function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((version) => existsSync(path.join(root, version, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}

/** PostgreSQL refuses root, so a root bench runs the cluster as `postgres`. */
function clusterOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Why the PostgreSQL half cannot run here, or undefined when it can. */
export function missingClusterTools(): string | undefined {
  try {
    execFileSync('pgbackrest', ['version'], { stdio: 'ignore' });
  } catch {
    return 'pgbackrest not found (apt-get install -y pgbackrest)';
  }
  if (!postgresBinDir()) return 'no initdb under /usr/lib/postgresql/*/bin (apt-get install -y postgresql)';
  try {
    clusterOwner();
  } catch {
    return 'running as root and there is no postgres user to run a cluster as';
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface BenchCluster {
  dataDir: string;
  socketDir: string;
  url: string;
  stop(): Promise<void>;
}

/** A temporary root owned by the cluster's user: data directories, sockets and the repository go in it. */
export class ClusterRoot {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'parley-backup-bench-pg-'));
  readonly owner = clusterOwner();

  constructor() {
    chmodSync(this.dir, 0o755);
    if (this.owner) chownSync(this.dir, this.owner.uid, this.owner.gid);
  }

  subdir(name: string): string {
    const sub = path.join(this.dir, name);
    mkdirSync(sub, { mode: 0o700 });
    if (this.owner) chownSync(sub, this.owner.uid, this.owner.gid);
    return sub;
  }

  async init(settings: Record<string, string>): Promise<string> {
    const dataDir = path.join(this.dir, 'pgdata');
    await run(
      path.join(postgresBinDir() ?? '', 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'],
      { cwd: this.dir, ...(this.owner ?? {}) },
    );
    const lines = Object.entries(settings).map(([key, value]) => `${key} = '${value.replace(/'/g, "''")}'`);
    appendFileSync(path.join(dataDir, 'postgresql.conf'), `\n${lines.join('\n')}\n`);
    return dataDir;
  }

  /** Starts postgres on `dataDir` and resolves once it accepts connections (after recovery, if restored). */
  async start(dataDir: string, overrides: Record<string, string> = {}): Promise<BenchCluster> {
    const port = await freePort();
    const socketDir = this.subdir(`sock-${String(port)}`);
    const options = Object.entries({
      port: String(port),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: socketDir,
      ...overrides,
    }).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
    const child: ChildProcess = spawn(
      path.join(postgresBinDir() ?? '', 'postgres'),
      ['-D', dataDir, ...options],
      {
        cwd: this.dir,
        stdio: ['ignore', 'ignore', 'pipe'],
        ...(this.owner ?? {}),
      },
    );
    let log = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString('utf8');
        if (log.includes('database system is ready to accept connections')) resolve();
      });
      child.once('exit', (code) => {
        reject(new Error(`postgres exited (${String(code)}) before it was ready:\n${log}`));
      });
    });
    return {
      dataDir,
      socketDir,
      url: `postgres://postgres@127.0.0.1:${String(port)}/postgres`,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGINT');
        await exited;
      },
    };
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
