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

export { BackupError } from './backup-error.ts';
export type { BackupService } from './backup-service.ts';
export { backupWorkDir } from './backup-work-dir.ts';

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
 * Wires scheduled backups into the server (docs/backups.md): the full and incremental tasks and the backup
 * alerts. On PostgreSQL nothing is scheduled yet (pgBackRest support is a later step): it says so once.
 */
export function registerBackups(deps: {
  config: Config;
  storage: Storage;
  clock: Clock;
  logger: Logger;
  scheduler: Scheduler;
  alerting: Alerting | undefined;
}): void {
  const { config, storage, logger } = deps;
  if (!config.backups) return;
  if (storage.dialect !== 'sqlite') {
    logger.warn(
      'built-in backups cover the embedded SQLite database only; back PostgreSQL up with its own tools',
    );
    return;
  }
  const service = backupServiceFor({
    ...deps,
    onKeyGenerated: (file) => {
      logger.warn(
        { file },
        'generated the backup key; keep a copy away from this server (PARLEY_BACKUP_KEY_FILE): without it no backup can be restored',
      );
    },
  });
  for (const task of backupTasks(
    service,
    { full: config.backupFullCron, incremental: config.backupIncrementalCron },
    logger,
  )) {
    deps.scheduler.register(task);
  }
  for (const condition of backupConditions(storage)) deps.alerting?.register(condition);
}
