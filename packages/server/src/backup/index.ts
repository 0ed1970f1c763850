import path from 'node:path';
import type { Alerting } from '../alerting/index.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Scheduler } from '../jobs/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { Storage } from '../storage/database.ts';
import { DATABASE_FILE_NAME } from './backup-files.ts';
import { type BackupService, createBackupService } from './backup-service.ts';
import { backupConditions, backupTasks } from './backup-tasks.ts';
import { backupWorkDir } from './backup-work-dir.ts';
import { openBackupKeys } from './backup-key.ts';
import { pgbackrestSettings } from './pgbackrest-config.ts';
import { clusterOwner, pgbackrestRunner } from './pgbackrest-runner.ts';
import { createPgbackrestService, type PgbackrestService } from './pgbackrest-service.ts';
import { renewEpochAfterRestore } from './restore-epoch.ts';

export { BackupError } from './backup-error.ts';
export type { BackupService } from './backup-service.ts';
export { backupWorkDir } from './backup-work-dir.ts';
export type { PgbackrestService } from './pgbackrest-service.ts';

/** The backup service of the embedded database, as `config` sets it (server and CLI alike). */
export function backupServiceFor(deps: {
  config: Config;
  storage: Storage;
  clock: Clock;
  onKeyGenerated?: (file: string) => void;
}): BackupService {
  const { config } = deps;
  return createBackupService({
    databaseFile: path.join(config.dataDir, DATABASE_FILE_NAME),
    workDir: backupWorkDir(config.dataDir),
    backupDir: config.backupDir,
    keyFile: config.backupKeyFile,
    retentionDays: config.backupRetentionDays,
    clock: deps.clock,
    storage: deps.storage,
    ...(deps.onKeyGenerated ? { onKeyGenerated: deps.onKeyGenerated } : {}),
  });
}

/**
 * The pgBackRest-driven backup service of a PostgreSQL database, as `config` sets it (PARLEY_PGBACKREST_*,
 * PARLEY_BACKUP_DIR as the repository, the repository cipher pass derived from PARLEY_BACKUP_KEY_FILE).
 */
export function pgbackrestServiceFor(deps: {
  config: Config;
  storage: Storage | undefined;
  clock: Clock;
  onKeyGenerated?: (file: string) => void;
}): PgbackrestService {
  const { config } = deps;
  const settings = pgbackrestSettings(config);
  return createPgbackrestService({
    settings,
    runner: pgbackrestRunner({
      configFile: settings.configFile,
      stanza: settings.stanza,
      owner: () => clusterOwner(settings.pgPath),
    }),
    storage: deps.storage,
    clock: deps.clock,
    audit: {
      masterKeyFile: config.masterKeyFile,
      masterKeyEnvironment: config.masterKey,
      erasureLogFile: config.erasureLogFile,
      clock: deps.clock,
      databaseSchema: config.databaseSchema,
    },
    openKeys: () =>
      openBackupKeys(config.backupKeyFile, {
        generate: true,
        ...(deps.onKeyGenerated ? { onGenerated: deps.onKeyGenerated } : {}),
      }),
  });
}

/**
 * Wires scheduled backups into the server (docs/backups.md): the full and incremental tasks and the backup
 * alerts. On PostgreSQL the same tasks drive pgBackRest (PARLEY_PGBACKREST_PG_PATH must be set; without it
 * nothing is scheduled and the server says so once). Before that, on PostgreSQL, a database restored since
 * the last start gets a new stream epoch (restore-epoch.ts), whether backups are scheduled or not.
 */
export async function registerBackups(deps: {
  config: Config;
  storage: Storage;
  clock: Clock;
  logger: Logger;
  scheduler: Scheduler;
  alerting: Alerting | undefined;
}): Promise<void> {
  const { config, storage, logger } = deps;
  if (storage.dialect === 'postgres' && (await renewEpochAfterRestore(storage)) !== undefined) {
    logger.warn('the database was restored (new PostgreSQL timeline): new stream epoch, clients resync');
  }
  if (!config.backups) return;
  if (storage.dialect !== 'sqlite' && config.pgbackrestPgPath === undefined) {
    logger.warn(
      'no scheduled PostgreSQL backups: set PARLEY_PGBACKREST_PG_PATH (pgBackRest, docs/backups.md), or back PostgreSQL up with its own tools',
    );
    return;
  }
  const onKeyGenerated = (file: string) => {
    logger.warn(
      { file },
      'generated the backup key; keep a copy away from this server (PARLEY_BACKUP_KEY_FILE): without it no backup can be restored',
    );
  };
  const service =
    storage.dialect === 'sqlite'
      ? backupServiceFor({ ...deps, onKeyGenerated })
      : pgbackrestServiceFor({ ...deps, onKeyGenerated });
  for (const task of backupTasks(
    service,
    { full: config.backupFullCron, incremental: config.backupIncrementalCron },
    logger,
  )) {
    deps.scheduler.register(task);
  }
  for (const condition of backupConditions(storage)) deps.alerting?.register(condition);
}
