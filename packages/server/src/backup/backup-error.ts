/**
 * Why a backup, verification or restore stopped. The CLI prints `message` and exits 1; the scheduled tasks
 * record `code` as the backup state (and the alert names it). Messages name files and backup ids, never
 * key material.
 */
export type BackupErrorCode =
  /** The backup key file is missing, malformed, or does not hold the key a backup was made under. */
  | 'backup_key_invalid'
  | 'backup_key_wrong'
  /** A backup file's checksum, the manifest signature, or a chunk's authentication tag does not match. */
  | 'backup_corrupt'
  | 'backup_not_found'
  | 'backup_incomplete'
  /** The backup target is full, or cannot be written at all. */
  | 'backup_target_full'
  | 'backup_target_unwritable'
  | 'restore_target_not_empty'
  | 'backup_unsupported'
  | 'backup_failed';

export class BackupError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

/** Names a file-system failure of the backup target by what the operator must fix. */
export function targetError(error: unknown, target: string): BackupError {
  if (error instanceof BackupError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new BackupError('backup_target_full', `the backup target ${target} is full (${code})`);
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST') {
    return new BackupError(
      'backup_target_unwritable',
      `the backup target ${target} cannot be written (${code})`,
    );
  }
  return new BackupError(
    'backup_failed',
    `the backup failed${code ? ` (${code})` : ''}: ${error instanceof Error ? error.name : 'unknown error'}`,
  );
}
