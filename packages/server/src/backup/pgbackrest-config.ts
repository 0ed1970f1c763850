import { hkdfSync } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.ts';
import { BackupError } from './backup-error.ts';
import type { BackupKeySet } from './backup-key.ts';
import type { ClusterOwner } from './pgbackrest-runner.ts';

/** Where pgBackRest finds the cluster, the repository and its settings (docs/backups.md, PostgreSQL). */
export interface PgbackrestSettings {
  configFile: string;
  stanza: string;
  /** The PostgreSQL data directory (`pg1-path`). */
  pgPath: string;
  pgSocketPath: string;
  pgPort: number;
  pgUser: string | undefined;
  pgDatabase: string | undefined;
  /** The repository (`repo1-path`): PARLEY_BACKUP_DIR. */
  repoPath: string;
  retentionDays: number;
}

export function pgbackrestSettings(config: Config): PgbackrestSettings {
  if (config.databaseUrl === undefined) {
    throw new BackupError(
      'backup_unsupported',
      'pgBackRest backs up PostgreSQL only (DATABASE_URL is unset)',
    );
  }
  if (config.pgbackrestPgPath === undefined) {
    throw new BackupError(
      'backup_unsupported',
      'set PARLEY_PGBACKREST_PG_PATH to the PostgreSQL data directory: pgBackRest backs the cluster up from there',
    );
  }
  const url = new URL(config.databaseUrl);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    configFile: path.resolve(config.pgbackrestConfigFile ?? '/etc/pgbackrest/parley.conf'),
    stanza: config.pgbackrestStanza,
    pgPath: path.resolve(config.pgbackrestPgPath),
    pgSocketPath: config.pgbackrestPgSocketPath,
    pgPort: url.port === '' ? 5432 : Number(url.port),
    pgUser: url.username === '' ? undefined : decodeURIComponent(url.username),
    pgDatabase: database === '' ? undefined : database,
    repoPath: config.backupDir,
    retentionDays: config.backupRetentionDays,
  };
}

/**
 * The repository cipher pass, derived from the first key of the backup key file (HKDF-SHA-256): the same
 * key file that guards the embedded backups guards the repository, and adding a key to the file later does
 * not change the pass of a repository already encrypted under it.
 */
export function repositoryCipherPass(keys: BackupKeySet): string {
  const first = keys.ids[0];
  const key = first === undefined ? undefined : keys.get(first);
  if (!key) throw new BackupError('backup_key_invalid', `the backup key file ${keys.file} holds no keys`);
  const derived = hkdfSync(
    'sha256',
    key.encryptionKey,
    Buffer.alloc(0),
    'parley pgbackrest repo1-cipher-pass',
    48,
  );
  return Buffer.from(derived).toString('base64url');
}

/** The configuration text: the cipher pass is in it, so it is written with mode 0600 and never logged. */
export function pgbackrestConfigText(settings: PgbackrestSettings, cipherPass: string): string {
  const lines = [
    '# Written by `parley backup configure` (docs/backups.md). Edits are lost at the next configure.',
    '[global]',
    `repo1-path=${settings.repoPath}`,
    'repo1-cipher-type=aes-256-cbc',
    `repo1-cipher-pass=${cipherPass}`,
    // Retention by time: full backups (with the incrementals and WAL they carry) older than this expire.
    'repo1-retention-full-type=time',
    `repo1-retention-full=${String(settings.retentionDays)}`,
    'start-fast=y',
    'log-level-console=warn',
    'log-level-file=off',
    '',
    `[${settings.stanza}]`,
    `pg1-path=${settings.pgPath}`,
    `pg1-port=${String(settings.pgPort)}`,
    `pg1-socket-path=${settings.pgSocketPath}`,
    ...(settings.pgUser === undefined ? [] : [`pg1-user=${settings.pgUser}`]),
    ...(settings.pgDatabase === undefined ? [] : [`pg1-database=${settings.pgDatabase}`]),
    '',
  ];
  return lines.join('\n');
}

/** What the DBA sets in postgresql.conf (then reload, or restart for archive_mode) so WAL reaches the repository. */
export function archiveSettings(settings: PgbackrestSettings): Record<string, string> {
  return {
    archive_mode: 'on',
    archive_command: `pgbackrest --config=${settings.configFile} --stanza=${settings.stanza} archive-push %p`,
    wal_level: 'replica',
  };
}

/**
 * Writes the configuration (mode 0600, replaced atomically) and makes the repository directory. Both
 * belong to the cluster's owner when Parley runs as root: `archive_command` runs as that user.
 */
export function writePgbackrestConfig(
  settings: PgbackrestSettings,
  cipherPass: string,
  owner: ClusterOwner | undefined,
): void {
  // A directory made here belongs to the cluster's owner; an existing one (/etc/pgbackrest) is left as it is.
  for (const dir of [path.dirname(settings.configFile), settings.repoPath]) {
    if (existsSync(dir)) continue;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (owner) chownSync(dir, owner.uid, owner.gid);
  }
  const staging = `${settings.configFile}.${String(process.pid)}.tmp`;
  writeFileSync(staging, pgbackrestConfigText(settings, cipherPass), { mode: 0o600, flag: 'wx' });
  chmodSync(staging, 0o600);
  if (owner) chownSync(staging, owner.uid, owner.gid);
  renameSync(staging, settings.configFile);
}
