import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../packages/server/src/app.js';
import { backupServiceFor } from '../packages/server/src/backup/index.js';
import { openBackupKeys } from '../packages/server/src/backup/backup-key.js';
import { restoreBackup } from '../packages/server/src/backup/backup-restore.js';
import { carryOutsideFiles } from '../packages/server/src/backup/restore-companions.js';
import { verifyBackup } from '../packages/server/src/backup/backup-verify.js';
import { systemClock } from '../packages/server/src/clock.js';
import { loadConfig } from '../packages/server/src/config.js';
import { BENCH_ENV, growBy, growTo, MB, newBackupLoad, sendFigures } from './backup-load.js';

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** Seconds until a server on the restored data directory is up (migrations checked, keys proven), then stops it. */
async function startOn(dataDir: string, backupDir: string, keyFile: string): Promise<number> {
  const started = performance.now();
  const app = await createApp(
    loadConfig({
      ...BENCH_ENV,
      PARLEY_DATA_DIR: dataDir,
      PARLEY_BACKUP_DIR: backupDir,
      PARLEY_BACKUP_KEY_FILE: keyFile,
      PARLEY_METRICS_ENABLED: 'false',
    }),
  );
  await app.listen();
  const seconds = (performance.now() - started) / 1000;
  await app.shutdown();
  return seconds;
}

/**
 * The embedded half of `npm run bench -- backup`: grows parley.db to `targetBytes`, takes a full backup while
 * one sender sends (send p50/p99 beside a 10 s baseline), an incremental after ~1 % more rows, restores the
 * chain into an empty directory and verifies it (trial restore, integrity and audit chain check).
 */
export async function runSqliteBackupBench(targetBytes: number): Promise<Record<string, number>> {
  const root = await mkdtemp(join(tmpdir(), 'parley-backup-bench-'));
  const dataDir = join(root, 'data');
  const backupDir = join(root, 'backups');
  const keyFile = join(root, 'keys', 'backup.key');
  const app = await createApp(
    loadConfig({
      ...BENCH_ENV,
      PARLEY_DATA_DIR: dataDir,
      PARLEY_BACKUP_DIR: backupDir,
      PARLEY_BACKUP_KEY_FILE: keyFile,
    }),
  );
  try {
    const databaseFile = join(dataDir, 'parley.db');
    // parley.db alone: SQLite checkpoints each commit's pages into it soon after; the WAL file keeps its size.
    const size = () => fileSize(databaseFile);
    const load = await newBackupLoad(app);
    const growStarted = performance.now();
    const grownBytes = await growTo(app, load, targetBytes, size);
    const growSeconds = (performance.now() - growStarted) / 1000;
    const service = backupServiceFor({ config: app.config, storage: app.storage, clock: systemClock });
    // The file as the backup starts: the baseline's sends grew it past `grownBytes`.
    let backedUpBytes = 0;
    const full = await sendFigures(app, load, async () => {
      backedUpBytes = await size();
      return service.create('full');
    });
    const rowsAtFull = load.rows;
    await growBy(app, load, Math.ceil(rowsAtFull / 100));
    const incrementalStarted = performance.now();
    const incremental = await service.create('incremental');
    const incrementalSeconds = (performance.now() - incrementalStarted) / 1000;
    const keys = openBackupKeys(keyFile, { generate: false });
    const restoredDir = join(root, 'restored');
    const restoreStarted = performance.now();
    const restored = await restoreBackup({ backupDir, keys, id: incremental.id, target: restoredDir });
    // As `parley backup restore` does: the master key and the erasure registers are not in backups.
    carryOutsideFiles(app.config, restoredDir);
    const restoreSeconds = (performance.now() - restoreStarted) / 1000;
    const restoredStartSeconds = await startOn(restoredDir, backupDir, keyFile);
    const restoredBytes = await fileSize(restored.databaseFile);
    const verifyStarted = performance.now();
    const report = await verifyBackup({
      backupDir,
      keys,
      id: incremental.id,
      scratchDir: join(root, 'verify'),
      masterKeyFile: app.config.masterKeyFile,
      masterKeyEnvironment: app.config.masterKey,
      erasureLogFile: app.config.erasureLogFile,
      clock: systemClock,
    });
    const verifySeconds = (performance.now() - verifyStarted) / 1000;
    return {
      rows: load.rows,
      grownMegabytes: grownBytes / MB,
      growSeconds,
      fullBackupSeconds: full.seconds,
      fullBackupDatabaseMegabytes: backedUpBytes / MB,
      fullBackupMBps: backedUpBytes / MB / full.seconds,
      fullStoredMegabytes: full.result.bytes / MB,
      ...full.figures,
      incrementalRows: load.rows - rowsAtFull,
      incrementalSeconds,
      incrementalStoredPages: incremental.storedPages,
      incrementalStoredMegabytes: incremental.bytes / MB,
      restoredMegabytes: restoredBytes / MB,
      restoreSeconds,
      restoreMBps: restoredBytes / MB / restoreSeconds,
      restoreChainLength: restored.chain.length,
      restoredStartSeconds,
      verifySeconds,
      verifyOk: report.ok ? 1 : 0,
    };
  } finally {
    await app.shutdown();
    await rm(root, { recursive: true, force: true });
  }
}
