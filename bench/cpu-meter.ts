import {
  machineTicks,
  type ProcessTicks,
  processTable,
  residentBytes,
  TICKS_PER_SECOND,
  treeTicks,
} from './proc-stat.js';

/** Whose CPU a run's window is split into. */
export interface MeterTargets {
  serverPid: number;
  /**
   * The database processes doing the server's work (PostgreSQL's helpers, the server's backends, Redis),
   * looked up at each reading: their CPU is the workload's, not noise. None on SQLite.
   */
  databasePids: (table: ReadonlyMap<number, ProcessTicks>) => readonly number[];
  /** The server's cores when it is pinned: busy time there that is not the server's is shown apart. */
  serverCores: readonly number[] | undefined;
}

/** Cumulative CPU ticks at one moment. */
export interface CpuSample {
  at: number;
  machine: number;
  serverCores: number;
  server: number;
  bench: number;
  /** Ticks of each database process doing the server's work. */
  database: Map<number, number>;
  serverRssBytes: number;
}

/** A window's CPU, each as a percentage of one core (200 % = both cores of a 2-core machine). */
export interface CpuUsage {
  serverCpuPercent: number;
  /** Resident memory of the server at the end of the window. */
  serverRssBytes: number;
  /** This process: the load generator (and the bench's bookkeeping). */
  benchCpuPercent: number;
  /** PostgreSQL and Redis in a PostgreSQL run, 0 otherwise. */
  databaseCpuPercent: number;
  /** Everything else the machine ran: other users, other tests, the kernel's own threads. */
  noisePercent: number;
  /** Busy time on the server's pinned cores that was not the server's; NaN when it is not pinned. */
  serverCoreOtherPercent: number;
}

/**
 * Reads /proc at the edges of a window: the machine's busy time (/proc/stat) and that of the server, this
 * process and the database processes (/proc/<pid>/stat, children included), so "noise" is what is left. A
 * reading is synchronous and takes a few milliseconds (one pass over /proc for the process tree).
 */
export class CpuMeter {
  constructor(private readonly targets: MeterTargets) {}

  sample(): CpuSample {
    const at = performance.now();
    const machine = machineTicks();
    const table = processTable();
    const { serverPid, databasePids, serverCores } = this.targets;
    const server = treeTicks(table, serverPid);
    const self = table.get(process.pid);
    // This process's own time, what it reaped, and its live children except the server (a child of it too).
    let bench = (self?.own ?? 0) + (self?.reaped ?? 0);
    for (const [pid, ticks] of table) if (ticks.ppid === process.pid && pid !== serverPid) bench += ticks.own;
    return {
      at,
      machine: machine.total,
      serverCores: (serverCores ?? []).reduce((sum, core) => sum + (machine.cores[core] ?? 0), 0),
      server,
      bench,
      database: new Map(databasePids(table).map((pid) => [pid, table.get(pid)?.own ?? 0])),
      serverRssBytes: residentBytes(serverPid),
    };
  }

  usage(from: CpuSample, to: CpuSample): CpuUsage {
    const percent = (ticks: number) => (ticks / TICKS_PER_SECOND / ((to.at - from.at) / 1000)) * 100;
    const server = to.server - from.server;
    const bench = to.bench - from.bench;
    // Per process, so a backend that appears (the pool grew) counts from its start, one that went counts not.
    let database = 0;
    for (const [pid, ticks] of to.database) database += ticks - (from.database.get(pid) ?? 0);
    return {
      serverCpuPercent: percent(server),
      serverRssBytes: to.serverRssBytes,
      benchCpuPercent: percent(bench),
      databaseCpuPercent: percent(database),
      noisePercent: percent(Math.max(0, to.machine - from.machine - server - bench - database)),
      serverCoreOtherPercent:
        this.targets.serverCores === undefined
          ? NaN
          : percent(Math.max(0, to.serverCores - from.serverCores - server)),
    };
  }
}
