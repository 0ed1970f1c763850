import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../packages/server/src/app.js';
import { pgbackrestServiceFor } from '../packages/server/src/backup/index.js';
import { systemClock } from '../packages/server/src/clock.js';
import { loadConfig } from '../packages/server/src/config.js';
import {
  initCluster,
  missingClusterBinaries,
  startCluster,
  type ThrowawayCluster,
  throwawayRoot,
} from '../packages/server/test/support/postgres-cluster.js';
import { BENCH_ENV, growBy, growTo, MB, newBackupLoad, sendFigures } from './backup-load.js';

/** The bench measures what a production cluster writes, so its clusters fsync. */
const DURABLE = { fsync: 'on' };

function missingPgbackrest(): string | undefined {
  try {
    execFileSync('pgbackrest', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'pgbackrest not found (apt-get install -y pgbackrest)';
  }
}

async function databaseSize(cluster: ThrowawayCluster): Promise<number> {
  const [row] = await cluster.query<{ bytes: string }>(
    'select pg_database_size(current_database()) as bytes',
  );
  return Number(row?.bytes ?? 0);
}

/**
 * The PostgreSQL half of `npm run bench -- backup`, on a throw-away cluster (initdb on a free port, archive
 * mode on; the shared server is never touched): grows the database to `targetBytes`, takes a full pgBackRest
 * backup while one sender sends, an incremental after ~1 % more rows, restores the incremental into an empty
 * directory and starts PostgreSQL on it (recovery to the backup point). Skipped, with the reason, when
 * pgbackrest or initdb is missing.
 */
export async function runPostgresBackupBench(targetBytes: number): Promise<Record<string, number>> {
  const missing = missingPgbackrest() ?? missingClusterBinaries();
  if (missing !== undefined) {
    console.log(`backup bench: skipping PostgreSQL: ${missing}`);
    return {};
  }
  const root = throwawayRoot('parley-backup-bench-pg-');
  const keyDir = await mkdtemp(join(tmpdir(), 'parley-backup-bench-key-'));
  const dataDirOfApp = await mkdtemp(join(tmpdir(), 'parley-backup-bench-app-'));
  const clusters: ThrowawayCluster[] = [];
  try {
    const pgData = await initCluster(
      root,
      { wal_level: 'replica', archive_mode: 'on', archive_command: '/bin/false' },
      'pgdata',
    );
    // fsync on: the bench measures what a production cluster writes.
    const source = await startCluster(root, pgData, DURABLE);
    clusters.push(source);
    const app = await createApp(
      loadConfig({
        ...BENCH_ENV,
        PARLEY_DATA_DIR: dataDirOfApp,
        DATABASE_URL: source.url,
        PARLEY_DATABASE_SCHEMA: 'public',
        PARLEY_BACKUP_DIR: join(root.dir, 'repository'),
        PARLEY_BACKUP_KEY_FILE: join(keyDir, 'backup.key'),
        PARLEY_PGBACKREST_CONFIG_FILE: join(root.dir, 'pgbackrest', 'parley.conf'),
        PARLEY_PGBACKREST_PG_PATH: pgData,
        PARLEY_PGBACKREST_PG_SOCKET_PATH: source.socketDir,
      }),
    );
    try {
      const service = pgbackrestServiceFor({ config: app.config, storage: app.storage, clock: systemClock });
      const configured = service.configure();
      // As a DBA does with the settings `parley backup configure` prints: archive_command takes a reload.
      await source.query(`alter system set archive_command = '${configured.postgresql.archive_command}'`);
      await source.query('select pg_reload_conf()');
      const load = await newBackupLoad(app);
      const growStarted = performance.now();
      const grownBytes = await growTo(app, load, targetBytes, () => databaseSize(source));
      const growSeconds = (performance.now() - growStarted) / 1000;
      const full = await sendFigures(app, load, () => service.create('full'));
      const rowsAtFull = load.rows;
      await growBy(app, load, Math.ceil(rowsAtFull / 100));
      const incrementalStarted = performance.now();
      const incremental = await service.create('incremental');
      const incrementalSeconds = (performance.now() - incrementalStarted) / 1000;
      const target = join(root.dir, 'restored');
      const restoreStarted = performance.now();
      await service.restore({ id: incremental.id, target });
      const restoreSeconds = (performance.now() - restoreStarted) / 1000;
      const startStarted = performance.now();
      const restored = await startCluster(root, target, { ...DURABLE, archive_mode: 'off' });
      clusters.push(restored);
      const restoredStartSeconds = (performance.now() - startStarted) / 1000;
      const restoredBytes = await databaseSize(restored);
      const [count] = await restored.query<{ n: string }>('select count(*) as n from public.messages');
      return {
        rows: load.rows,
        grownMegabytes: grownBytes / MB,
        growSeconds,
        fullBackupSeconds: full.seconds,
        fullBackupMBps: full.result.databaseBytes / MB / full.seconds,
        fullBackupDatabaseMegabytes: full.result.databaseBytes / MB,
        fullStoredMegabytes: full.result.bytes / MB,
        ...full.figures,
        incrementalRows: load.rows - rowsAtFull,
        incrementalSeconds,
        incrementalStoredMegabytes: incremental.bytes / MB,
        incrementalDatabaseMegabytes: incremental.databaseBytes / MB,
        restoreSeconds,
        restoreMBps: incremental.databaseBytes / MB / restoreSeconds,
        restoredStartSeconds,
        restoredMegabytes: restoredBytes / MB,
        restoredMessages: Number(count?.n ?? 0),
      };
    } finally {
      await app.shutdown();
    }
  } finally {
    for (const cluster of clusters) await cluster.stop();
    root.remove();
    await rm(keyDir, { recursive: true, force: true });
    await rm(dataDirOfApp, { recursive: true, force: true });
  }
}
