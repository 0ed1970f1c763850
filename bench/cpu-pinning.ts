import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { DatabaseProcesses } from './database-processes.js';
import { childPids, processTable } from './proc-stat.js';

/**
 * Which cores the server and the load side run on (issue 11: the server pinned to one core, the load
 * generator — and PostgreSQL and Redis — on the other). `taskset` lists, e.g. '0' or '2-3'.
 */
export interface PinningPlan {
  enabled: boolean;
  serverCpus: string;
  loadCpus: string;
}

const run = promisify(execFile);

/** `taskset -a -cp`: every thread of `pid`; threads and children it starts later inherit the mask. */
export async function pin(pid: number, cpus: string): Promise<void> {
  await run('taskset', ['-a', '-cp', cpus, String(pid)]);
}

/** The CPU list `pid` may run on now, as taskset prints it. */
export async function affinityOf(pid: number): Promise<string> {
  const { stdout } = await run('taskset', ['-cp', String(pid)]);
  return /list:\s*(\S+)/.exec(stdout)?.[1] ?? '';
}

/** The cores of a taskset list ('0', '0,2', '1-3'), for reading their busy time from /proc/stat. */
export function coresOf(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [from = NaN, to = from] = part.split('-').map(Number);
    return Array.from({ length: to - from + 1 }, (_, index) => from + index);
  });
}

/** A pinned process tree given back: each process to the affinity it had. */
interface Pinned {
  pids: number[];
  original: string;
}

/** Pins `root` and its current children (but `except`) to `cpus`; remembers `root`'s affinity before. */
async function pinTree(root: number, cpus: string, except: number | undefined): Promise<Pinned> {
  const original = await affinityOf(root);
  const pids = [root, ...childPids(processTable(), root).filter((pid) => pid !== except)];
  for (const pid of pids) await pin(pid, cpus).catch(() => undefined);
  return { pids, original };
}

/**
 * Puts the load side on the load cores while a server is measured: this process and what it started but the
 * server (tsx's esbuild service), and — on PostgreSQL + Redis, when they are local — the postmaster with every
 * backend it has (new backends are forked from it and inherit the mask) and Redis. `restore` gives each its
 * affinity back (backends forked meanwhile get the postmaster's), so growing the next database may use every
 * core and the shared database is not left on one core for whoever uses it next.
 */
export async function pinLoadSide(
  plan: PinningPlan,
  serverPid: number,
  database: DatabaseProcesses | undefined,
): Promise<{ restore: () => Promise<void>; description: string }> {
  const roots = [process.pid, database?.postmaster, database?.redis].filter((pid) => pid !== undefined);
  const pinned: Pinned[] = [];
  for (const root of roots) pinned.push(await pinTree(root, plan.loadCpus, serverPid));
  const restore = async () => {
    for (const [index, root] of roots.entries()) {
      const cpus = pinned[index]?.original ?? '';
      // Children now (backends forked while pinned, too), not those pinned then.
      for (const pid of [root, ...childPids(processTable(), root).filter((child) => child !== serverPid)])
        await pin(pid, cpus).catch(() => undefined);
    }
  };
  const names = [
    `load generator (pid ${pinned[0]?.pids.join(', ') ?? ''})`,
    database?.postmaster === undefined
      ? undefined
      : `PostgreSQL (postmaster ${database.postmaster} and backends)`,
    database?.redis === undefined ? undefined : `Redis (pid ${database.redis})`,
  ].filter((name) => name !== undefined);
  return {
    restore,
    description: [`${names.join(', ')} on CPU ${plan.loadCpus}`, ...(database?.notes ?? [])].join('; '),
  };
}
