import { runPostgresBackupBench } from './backup-postgres-bench.js';
import { runSqliteBackupBench } from './backup-sqlite-bench.js';

/** The database size the bench grows to (PARLEY_BENCH_BACKUP_BYTES; the issue asks 1 GiB, 50000000 for a quick check). */
const TARGET_BYTES = Number(process.env.PARLEY_BENCH_BACKUP_BYTES ?? 1024 ** 3);

function prefixed(prefix: string, figures: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(figures).map(([name, value]) => [
      `${prefix}${name[0]?.toUpperCase() ?? ''}${name.slice(1)}`,
      value,
    ]),
  );
}

/**
 * `npm run bench -- backup`: backup and restore of a database grown to PARLEY_BENCH_BACKUP_BYTES, on SQLite
 * and (when pgbackrest and initdb are installed) on a throw-away PostgreSQL cluster with pgBackRest: full
 * backup time, throughput and stored size, the send p50/p99 during it beside a 10 s baseline, an incremental
 * after ~1 % more rows, and the restore of the chain into an empty directory. PARLEY_BENCH_BACKUP_DIALECTS
 * (`sqlite,postgres` by default) picks the halves.
 */
export async function runBackupBench(): Promise<Record<string, number>> {
  const dialects = (process.env.PARLEY_BENCH_BACKUP_DIALECTS ?? 'sqlite,postgres').split(',');
  const figures: Record<string, number> = { targetBytes: TARGET_BYTES };
  if (dialects.includes('sqlite'))
    Object.assign(figures, prefixed('sqlite', await runSqliteBackupBench(TARGET_BYTES)));
  if (dialects.includes('postgres'))
    Object.assign(figures, prefixed('postgres', await runPostgresBackupBench(TARGET_BYTES)));
  return figures;
}
