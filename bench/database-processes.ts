import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { childPids, type ProcessTicks, processTicks } from './proc-stat.js';

/** The local processes behind the storage: PostgreSQL's postmaster and Redis, when they run on this machine. */
export interface DatabaseProcesses {
  postmaster?: number;
  redis?: number;
  /** Why one was not found (remote, in a container, unreachable). */
  notes: string[];
}

const readOr = (path: string, fallback: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
};

export const commandOf = (pid: number): string => readOr(`/proc/${pid}/comm`, '').trim();

async function postmasterPid(postgresUrl: string) {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    const backend = rows[0]?.pid ?? 0;
    const stat = processTicks(backend);
    if (!stat) return `backend ${backend} is not a local process`;
    return commandOf(stat.ppid).startsWith('postgres') ? stat.ppid : `parent ${stat.ppid} is not postgres`;
  } finally {
    await client.end();
  }
}

async function redisPid(redisUrl: string) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? NaN);
    return commandOf(pid).startsWith('redis') ? pid : `process_id ${pid} is not a local redis`;
  } finally {
    redis.disconnect();
  }
}

/** The postmaster (the parent of our own backend) and Redis (its `INFO server` process id), if local. */
export async function findDatabaseProcesses(
  postgresUrl: string,
  redisUrl: string,
): Promise<DatabaseProcesses> {
  const found: DatabaseProcesses = { notes: [] };
  const [postgres, redis] = await Promise.all([
    postmasterPid(postgresUrl).catch((error: unknown) => String(error)),
    redisPid(redisUrl).catch((error: unknown) => String(error)),
  ]);
  if (typeof postgres === 'number') found.postmaster = postgres;
  else found.notes.push(`PostgreSQL is not a local process: ${postgres}`);
  if (typeof redis === 'number') found.redis = redis;
  else found.notes.push(`Redis is not a local process: ${redis}`);
  return found;
}

/** Local ports of `pid`'s TCP connections to `remotePort` (its sockets' inodes looked up in /proc/net/tcp*). */
function localPortsTo(pid: number, remotePort: number): Set<number> {
  const inodes = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return new Set();
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readOr(file, '').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local = '', remote = ''] = [fields[1], fields[2]];
      if (!inodes.has(fields[9] ?? '') || Number.parseInt(remote.split(':')[1] ?? '', 16) !== remotePort)
        continue;
      ports.add(Number.parseInt(local.split(':')[1] ?? '', 16));
    }
  }
  return ports;
}

/**
 * The database processes doing the server's work now: PostgreSQL's own helpers (checkpointer, WAL writer,
 * background writer, autovacuum) and the backends whose client is one of the server's connections (a
 * backend's title names its client, `… 127.0.0.1(54321) idle`), and Redis. Backends of anyone else using
 * the same PostgreSQL are left out: on a shared machine they are noise, not this server's cost.
 */
export function serverDatabasePids(
  processes: DatabaseProcesses,
  serverPid: number,
  table: ReadonlyMap<number, ProcessTicks>,
  postgresPort: number,
): number[] {
  const pids = processes.redis === undefined ? [] : [processes.redis];
  if (processes.postmaster === undefined) return pids;
  const serverPorts = localPortsTo(serverPid, postgresPort);
  for (const pid of childPids(table, processes.postmaster)) {
    const title = readOr(`/proc/${pid}/cmdline`, '');
    // The server connects over TCP: a backend on the Unix socket is someone else's.
    if (title.includes('[local]')) continue;
    const client = /\(([0-9]+)\)/.exec(title)?.[1];
    if (client === undefined || serverPorts.has(Number(client))) pids.push(pid);
  }
  return pids;
}
