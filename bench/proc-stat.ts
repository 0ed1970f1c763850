import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports process and machine CPU time in USER_HZ ticks, 100 per second on every mainstream kernel. */
export const TICKS_PER_SECOND = 100;

/** CPU ticks of one process, with those of its children it has already reaped, and its parent's pid. */
export interface ProcessTicks {
  ppid: number;
  /** utime + stime. */
  own: number;
  /** cutime + cstime: children that exited and were waited for (PostgreSQL backends, for the postmaster). */
  reaped: number;
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** `/proc/<pid>/stat`, or undefined when the process is gone. */
export function processTicks(pid: number): ProcessTicks | undefined {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // Fields after the command name (which may contain spaces) start after the last ')'; field 3 is index 0.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => Number(fields[n - 3]);
  return { ppid: field(4), own: field(14) + field(15), reaped: field(16) + field(17) };
}

/** Resident memory of a process in bytes (VmRSS), NaN when it is gone. */
export function residentBytes(pid: number): number {
  const status = readOrUndefined(`/proc/${pid}/status`) ?? '';
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
}

/** Every live process's ticks by pid: one pass over /proc (a few milliseconds for a few hundred processes). */
export function processTable(): Map<number, ProcessTicks> {
  const table = new Map<number, ProcessTicks>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ticks = processTicks(Number(name));
    if (ticks) table.set(Number(name), ticks);
  }
  return table;
}

/** The pids of `root`'s direct children in `table`. */
export function childPids(table: ReadonlyMap<number, ProcessTicks>, root: number): number[] {
  return [...table].filter(([pid, ticks]) => pid !== root && ticks.ppid === root).map(([pid]) => pid);
}

/**
 * CPU of a process and its direct children: its own, what it reaped, and what its live children used so far.
 * A child that exits between two readings moves from the live part to the reaped part, so differences stay
 * right as backends come and go.
 */
export function treeTicks(table: ReadonlyMap<number, ProcessTicks>, root: number): number {
  const ticks = table.get(root);
  if (ticks === undefined) return 0;
  let total = ticks.own + ticks.reaped;
  for (const pid of childPids(table, root)) total += table.get(pid)?.own ?? 0;
  return total;
}

/** Busy ticks (everything but idle and iowait) of the whole machine and of each core, from /proc/stat. */
export function machineTicks(): { total: number; cores: number[] } {
  const cores: number[] = [];
  let total = 0;
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const match = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!match) continue;
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = (match[2] ?? '')
      .split(/\s+/)
      .map(Number);
    const busy = user + nice + system + irq + softirq + steal;
    if (match[1] === '') total = busy;
    else cores[Number(match[1])] = busy;
  }
  return { total, cores };
}
