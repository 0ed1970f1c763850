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
import { describe, it } from 'vitest';

const run = promisify(execFile);

/** The newest PostgreSQL server binaries Debian installed (`/usr/lib/postgresql/<version>/bin`). */
function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((version) => existsSync(path.join(root, version, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}

/** The OS user the cluster runs as: PostgreSQL refuses root, so a root test process uses `postgres`. */
function clusterUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function missingTools(): string | undefined {
  try {
    execFileSync('pgbackrest', ['version'], { stdio: 'ignore' });
  } catch {
    return 'pgbackrest not found (install it with: apt-get install -y pgbackrest)';
  }
  if (!postgresBinDir()) return 'no initdb under /usr/lib/postgresql/*/bin (apt-get install -y postgresql)';
  if (process.getuid?.() === 0) {
    try {
      clusterUser();
    } catch {
      return 'running as root and there is no postgres user to run a cluster as';
    }
  }
  return undefined;
}

/**
 * Runs `suite` when pgBackRest and PostgreSQL's server binaries are installed. Outside CI a missing tool skips
 * it with one printed line; with CI=true it fails, because a skipped suite there would hide a regression.
 */
export function describePgbackrest(title: string, suite: () => void): void {
  const reason = missingTools();
  if (reason === undefined) {
    describe(`${title} [pgbackrest]`, suite);
    return;
  }
  if (process.env.CI === 'true') {
    describe(`${title} [pgbackrest]`, () => {
      it('has pgbackrest and initdb (CI=true)', () => {
        throw new Error(`CI=true and the pgBackRest suite cannot run: ${reason}`);
      });
    });
    return;
  }
  process.stdout.write(`SKIPPING the pgBackRest suite: ${reason}\n`);
  describe.skip(`${title} [pgbackrest]`, suite);
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

/** A place owned by the cluster's user (the temp root, its data directories, the pgBackRest repository). */
export interface ThrowawayRoot {
  dir: string;
  owner: { uid: number; gid: number } | undefined;
  /** A new directory under the root, owned by the cluster's user. */
  subdir(name: string): string;
  remove(): void;
}

export function throwawayRoot(): ThrowawayRoot {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-pgcluster-'));
  chmodSync(dir, 0o755);
  const owner = clusterUser();
  if (owner) chownSync(dir, owner.uid, owner.gid);
  return {
    dir,
    owner,
    subdir(name) {
      const sub = path.join(dir, name);
      mkdirSync(sub, { mode: 0o700 });
      if (owner) chownSync(sub, owner.uid, owner.gid);
      return sub;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A PostgreSQL server process on a data directory of its own, on a free loopback port. */
export interface ThrowawayCluster {
  dataDir: string;
  socketDir: string;
  port: number;
  url: string;
  query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

/** `initdb` a new cluster under the root with the given extra settings (archive_mode, archive_command, …). */
export async function initCluster(root: ThrowawayRoot, settings: Record<string, string>): Promise<string> {
  const bin = postgresBinDir() ?? '';
  const dataDir = path.join(root.dir, `pgdata-${String(Date.now())}`);
  await run(
    path.join(bin, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'],
    {
      cwd: root.dir,
      ...(root.owner ?? {}),
    },
  );
  appendFileSync(
    path.join(dataDir, 'postgresql.conf'),
    `\n${Object.entries(settings)
      .map(([key, value]) => `${key} = '${value.replace(/'/g, "''")}'`)
      .join('\n')}\n`,
  );
  return dataDir;
}

/**
 * Starts `postgres` on `dataDir` (a fresh port, its socket in a directory of its own) and waits for the log
 * line that says it accepts connections, which a restored cluster prints only once its recovery ended.
 */
export async function startCluster(
  root: ThrowawayRoot,
  dataDir: string,
  overrides: Record<string, string> = {},
): Promise<ThrowawayCluster> {
  const bin = postgresBinDir() ?? '';
  const port = await freePort();
  const socketDir = root.subdir(`sock-${String(port)}`);
  const options = Object.entries({
    port: String(port),
    listen_addresses: '127.0.0.1',
    unix_socket_directories: socketDir,
    fsync: 'off',
    ...overrides,
  }).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
  const child: ChildProcess = spawn(path.join(bin, 'postgres'), ['-D', dataDir, ...options], {
    cwd: root.dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(root.owner ?? {}),
  });
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
  const url = `postgres://postgres@127.0.0.1:${String(port)}/postgres`;
  return {
    dataDir,
    socketDir,
    port,
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
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      // SIGINT: fast shutdown (sessions ended, a checkpoint written).
      child.kill('SIGINT');
      await exited;
    },
  };
}
