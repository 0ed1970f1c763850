import type { AlertCondition } from '../alerting/index.ts';
import { JobError, type ScheduledTask } from '../jobs/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { Storage } from '../storage/database.ts';
import { BackupError } from './backup-error.ts';
import type { BackupKind } from './backup-manifest.ts';
import { readBackupState } from './backup-state.ts';

/** What a scheduled backup needs of either backup service (embedded SQLite, or pgBackRest on PostgreSQL). */
export interface BackupTaker {
  create(kind: BackupKind): Promise<{ id: string; kind: BackupKind; deleted: string[] } & object>;
}

/** A failed backup (full target, key file unreadable) is tried again this much later, not every minute. */
const RETRY_DELAY_MS = 15 * 60_000;
/** Without a successful backup for this long, the daily incremental has failed or not run twice. */
export const BACKUP_OVERDUE_MS = 2 * 24 * 3600 * 1000;

function backupTask(
  name: string,
  cron: string,
  kind: BackupKind,
  service: BackupTaker,
  logger: Logger,
): ScheduledTask {
  return {
    name,
    cron,
    retryDelayMs: RETRY_DELAY_MS,
    async run() {
      try {
        // Sizes, counts and durations only: a backup result holds no secret.
        const { id, deleted, ...facts } = await service.create(kind);
        logger.info({ backupId: id, ...facts, deleted: deleted.length }, 'backup written');
      } catch (error) {
        // The code names what to fix (backup_target_full, backup_key_invalid, …); the state row keeps it too.
        if (error instanceof BackupError) throw new JobError(error.code, error.message);
        throw error;
      }
    },
  };
}

/** The two scheduled backups (once cluster-wide each, docs/jobs.md): `backup.full` and `backup.incremental`. */
export function backupTasks(
  service: BackupTaker,
  crons: { full: string; incremental: string },
  logger: Logger,
): ScheduledTask[] {
  return [
    backupTask('backup.full', crons.full, 'full', service, logger),
    backupTask('backup.incremental', crons.incremental, 'incremental', service, logger),
  ];
}

/**
 * `backup_failed` (critical): the latest backup attempt failed; resolved by the next one that succeeds.
 * `backup_stale` (warning): the last successful backup is older than two days.
 */
export function backupConditions(storage: Storage): AlertCondition[] {
  return [
    {
      name: 'backup_failed',
      scope: 'cluster',
      severity: 'critical',
      async evaluate() {
        const state = await readBackupState(storage);
        if (state?.lastOutcome !== 'failed') return [];
        return [
          {
            summary: `The ${state.lastKind} backup at ${new Date(state.lastAttemptAt).toISOString()} failed (${state.lastErrorCode ?? 'unknown'}); see docs/backups.md.`,
          },
        ];
      },
    },
    {
      name: 'backup_stale',
      scope: 'cluster',
      severity: 'warning',
      async evaluate(now) {
        const state = await readBackupState(storage);
        const last = state?.lastSuccessAt;
        if (last === undefined || last === null || now - last <= BACKUP_OVERDUE_MS) return [];
        return [{ summary: `The last successful backup is from ${new Date(last).toISOString()}.` }];
      },
    },
  ];
}
