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
  rmSync,
} from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

/**
 * Throw-away PostgreSQL clusters (initdb in a temp dir, a free loopback port, trust authentication), for the
 * tests and benchmarks that stop, crash or restore a server and so must never touch the shared one. Free of
 * vitest on purpose: the benchmarks import it too, and vitest refuses to load outside its runner.
 */

const run = promisify(execFile);

/** The newest PostgreSQL server binaries Debian installed (`/usr/lib/postgresql/<version>/bin`). */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((version) => existsSync(path.join(root, version, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}

/** The OS user the cluster runs as: PostgreSQL refuses root, so a root process uses `postgres`. */
export function clusterOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Why a cluster cannot be made here (no initdb, or root without a `postgres` user), or undefined. */
export function missingClusterBinaries(): string | undefined {
  if (!postgresBinDir()) return 'no initdb under /usr/lib/postgresql/*/bin (apt-get install -y postgresql)';
  try {
    clusterOwner();
  } catch {
    return 'running as root and there is no postgres user to run a cluster as';
  }
  return undefined;
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

/** A place owned by the cluster's user (the temp root, its data directories, a pgBackRest repository). */
export interface ThrowawayRoot {
  dir: string;
  owner: { uid: number; gid: number } | undefined;
  /** A directory under the root owned by the cluster's user, made if it is not there yet. */
  subdir(name: string): string;
  remove(): void;
}

export function throwawayRoot(prefix = 'parley-pgcluster-'): ThrowawayRoot {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o755);
  const owner = clusterOwner();
  if (owner) chownSync(dir, owner.uid, owner.gid);
  return {
    dir,
    owner,
    subdir(name) {
      const sub = path.join(dir, name);
      if (existsSync(sub)) return sub;
      mkdirSync(sub, { mode: 0o700 });
      if (owner) chownSync(sub, owner.uid, owner.gid);
      return sub;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A PostgreSQL server process on a data directory of its own, on a loopback port. */
export interface ThrowawayCluster {
  dataDir: string;
  socketDir: string;
  port: number;
  url: string;
  query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  /** Fast shutdown (SIGINT: sessions ended, a checkpoint written). */
  stop(): Promise<void>;
  /** Immediate shutdown (SIGQUIT: every backend dies at once, no checkpoint — a crash, as far as data goes). */
  stopImmediately(): Promise<void>;
}

/** `initdb` a new cluster under the root with the given extra settings (archive_mode, archive_command, …). */
export async function initCluster(
  root: ThrowawayRoot,
  settings: Record<string, string>,
  name = `pgdata-${String(Date.now())}`,
): Promise<string> {
  const dataDir = path.join(root.dir, name);
  await run(
    path.join(postgresBinDir() ?? '', 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'],
    { cwd: root.dir, ...(root.owner ?? {}) },
  );
  const lines = Object.entries(settings).map(([key, value]) => `${key} = '${value.replace(/'/g, "''")}'`);
  appendFileSync(path.join(dataDir, 'postgresql.conf'), `\n${lines.join('\n')}\n`);
  return dataDir;
}

async function signalAndWait(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

/**
 * Starts `postgres` on `dataDir` (on `port`, or a fresh one; its socket in a directory of its own) and waits
 * for the log line that says it accepts connections, which a restored or crashed cluster prints only once its
 * recovery ended. `fsync` is off unless `settings` say otherwise: tests never need it, benchmarks do.
 */
export async function startCluster(
  root: ThrowawayRoot,
  dataDir: string,
  settings: Record<string, string> = {},
  port?: number,
): Promise<ThrowawayCluster> {
  const listenPort = port ?? (await freePort());
  const socketDir = root.subdir(`sock-${String(listenPort)}`);
  const options = Object.entries({
    port: String(listenPort),
    listen_addresses: '127.0.0.1',
    unix_socket_directories: socketDir,
    fsync: 'off',
    ...settings,
  }).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
  const child: ChildProcess = spawn(
    path.join(postgresBinDir() ?? '', 'postgres'),
    ['-D', dataDir, ...options],
    {
      cwd: root.dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(root.owner ?? {}),
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
  const url = `postgres://postgres@127.0.0.1:${String(listenPort)}/postgres`;
  return {
    dataDir,
    socketDir,
    port: listenPort,
    url,
    async query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]> {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query<T>(text, values)).rows;
      } finally {
        await client.end();
      }
    },
    stop: () => signalAndWait(child, 'SIGINT'),
    stopImmediately: () => signalAndWait(child, 'SIGQUIT'),
  };
}
