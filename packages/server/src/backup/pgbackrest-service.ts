import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Clock } from '../clock.ts';
import type { Storage } from '../storage/database.ts';
import { BackupError, targetError } from './backup-error.ts';
import { type BackupKeySet } from './backup-key.ts';
import type { BackupKind } from './backup-manifest.ts';
import { recordBackupAttempt } from './backup-state.ts';
import { type AuditCheckOptions, checkAuditChains } from './backup-verify.ts';
import { startTrialCluster, type TrialCluster } from './pgbackrest-trial.ts';
import {
  archiveSettings,
  type PgbackrestSettings,
  repositoryCipherPass,
  writePgbackrestConfig,
} from './pgbackrest-config.ts';
import { type PgBackupEntry, parseInfo } from './pgbackrest-info.ts';
import type { PgbackrestRunner } from './pgbackrest-runner.ts';

export interface PgBackupResult {
  id: string;
  kind: BackupKind;
  parentId: string | null;
  fullBecause?: string;
  databaseBytes: number;
  bytes: number;
  durationMs: number;
  deleted: string[];
}

export interface PgRestoreOptions {
  id: string;
  target: string;
  /** Replay the archived WAL up to this time (point-in-time restore) instead of stopping at the backup point. */
  to?: string;
  /** Replay every archived WAL segment (the newest state the repository holds). */
  latest?: boolean;
}

/**
 * PostgreSQL backups through pgBackRest (docs/backups.md): Parley writes its configuration (repository cipher
 * on, retention by time), takes full and incremental backups, lists and verifies them, and restores a backup
 * set or a point in time into an empty directory. pgBackRest itself expires old sets after each backup.
 */
export function createPgbackrestService(deps: {
  settings: PgbackrestSettings;
  runner: PgbackrestRunner;
  storage: Storage | undefined;
  clock: Clock;
  openKeys: () => BackupKeySet;
  /** For verify's audit chain check on the trial restore: the keys and the schema Parley's tables are in. */
  audit: AuditCheckOptions & { databaseSchema: string };
}) {
  const { settings, runner } = deps;
  let queue: Promise<unknown> = Promise.resolve();

  function configure() {
    writePgbackrestConfig(settings, repositoryCipherPass(deps.openKeys()), runner.owner);
    return {
      configFile: settings.configFile,
      stanza: settings.stanza,
      repository: settings.repoPath,
      retentionDays: settings.retentionDays,
      postgresql: archiveSettings(settings),
    };
  }

  async function list(): Promise<PgBackupEntry[]> {
    return parseInfo(await runner.run('info', ['--output=json']), settings);
  }

  async function run(requested: BackupKind): Promise<PgBackupResult> {
    const started = deps.clock.now();
    if (!existsSync(settings.configFile)) configure();
    // Idempotent: creates the stanza on the first backup, checks it matches the cluster afterwards.
    await runner.run('stanza-create');
    const before = await list();
    const hadFull = before.some((set) => set.status === 'complete' && set.kind === 'full');
    await runner.run('backup', [`--type=${requested === 'full' ? 'full' : 'incr'}`]);
    const after = await list();
    const newest = after.at(-1);
    if (!newest || before.some((set) => set.id === newest.id)) {
      throw new BackupError('backup_failed', 'pgbackrest backup ended without a new backup set');
    }
    const kind: BackupKind = newest.kind === 'full' ? 'full' : 'incremental';
    return {
      id: newest.id,
      kind,
      parentId: newest.parentId,
      ...(requested === 'incremental' && kind === 'full' && !hadFull
        ? { fullBecause: 'there is no earlier backup' }
        : {}),
      databaseBytes: newest.databaseBytes,
      bytes: newest.bytes,
      durationMs: deps.clock.now() - started,
      deleted: before.filter((set) => !after.some((kept) => kept.id === set.id)).map((set) => set.id),
    };
  }

  /** Takes one backup and records its outcome for the alerts, as the embedded backups do. */
  async function create(requested: BackupKind): Promise<PgBackupResult> {
    const attempt = queue.then(async () => {
      const at = deps.clock.now();
      const storage = deps.storage;
      const record = (entry: Parameters<typeof recordBackupAttempt>[1]) =>
        storage ? recordBackupAttempt(storage, entry).catch(() => undefined) : Promise.resolve(undefined);
      try {
        const result = await run(requested);
        await record({ at, kind: result.kind, errorCode: null, id: result.id, bytes: result.bytes });
        return result;
      } catch (error) {
        const failure = error instanceof BackupError ? error : targetError(error, settings.repoPath);
        await record({ at, kind: requested, errorCode: failure.code, id: null });
        throw failure;
      }
    });
    queue = attempt.catch(() => undefined);
    return attempt;
  }

  /** An empty (or new) directory; anything else is refused untouched. */
  function assertEmptyTarget(target: string): void {
    if (existsSync(target)) {
      let entries: string[];
      try {
        entries = readdirSync(target);
      } catch {
        throw new BackupError('restore_target_not_empty', `the restore target ${target} is not a directory`);
      }
      if (entries.length > 0) {
        throw new BackupError(
          'restore_target_not_empty',
          `the restore target ${target} is not empty: restore only into an empty (or new) cluster directory`,
        );
      }
    }
  }

  /** The set, once the repository opened with this cipher pass (a wrong one is named before anything is written). */
  async function assertSet(id: string): Promise<void> {
    if (!(await list()).some((set) => set.id === id && set.status === 'complete')) {
      throw new BackupError('backup_not_found', `no complete backup set ${id} in ${settings.repoPath}`);
    }
  }

  /**
   * Restores backup set `id` into `target`. By default recovery stops at the backup point (`immediate`);
   * `to` replays archived WAL up to a time, `latest` all of it. The cluster started there promotes to a new
   * timeline, which is how the Parley server started on it knows to take a new epoch (restore-epoch.ts).
   */
  async function restore(options: PgRestoreOptions) {
    assertEmptyTarget(options.target);
    await assertSet(options.id);
    // Made for (and owned by) the cluster's owner, who runs the restore and then the cluster.
    mkdirSync(options.target, { recursive: true, mode: 0o700 });
    if (runner.owner) chownSync(options.target, runner.owner.uid, runner.owner.gid);
    const recovery = options.to
      ? ['--type=time', `--target=${options.to}`, '--target-action=promote']
      : options.latest
        ? ['--type=default']
        : ['--type=immediate', '--target-action=promote'];
    await runner.run('restore', [`--set=${options.id}`, `--pg1-path=${options.target}`, ...recovery]);
    return {
      id: options.id,
      target: options.target,
      recovery: options.to ? { to: options.to } : options.latest ? 'latest' : 'backup point',
    };
  }

  /**
   * pgBackRest 2.45's verify exits 0 whatever it finds: its text report says `status: ok` or names what is
   * damaged (`checksum invalid`, `missing`), and only that report is to be trusted.
   */
  async function verifyRepository(): Promise<void> {
    const report = await runner.run('verify', ['--output=text', '--verbose']);
    const status = /^\s*status: (\S+)/m.exec(report)?.[1];
    if (status === 'ok') return;
    const findings = report
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => /invalid|missing|error/i.test(line) && !/: 0$/.test(line))
      .slice(0, 10);
    throw new BackupError(
      'backup_corrupt',
      `pgbackrest verify found the repository damaged (status ${status ?? 'unknown'}): ${findings.join('; ')}`,
    );
  }

  /**
   * `pgbackrest verify` (every file of every set and the WAL archive against their checksums, through the
   * cipher), then a trial restore of set `id` into a fresh temporary directory, PostgreSQL started on it
   * (private socket, no archiving), and every audit chain recomputed there, as `parley audit verify` does
   * (without the anchors). Everything is stopped and removed afterwards.
   */
  async function verify(id: string) {
    await assertSet(id);
    await verifyRepository();
    // A fresh temporary directory the cluster's owner can write into, as the restore must.
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'parley-pgbackrest-verify-'));
    let trial: TrialCluster | undefined;
    try {
      if (runner.owner) chownSync(scratch, runner.owner.uid, runner.owner.gid);
      const dataDir = path.join(scratch, 'data');
      await restore({ id, target: dataDir });
      trial = await startTrialCluster(dataDir, scratch, runner.owner);
      const auditChains = await checkAuditChains(
        {
          dataDir: scratch,
          databaseUrl: trial.url(settings.pgUser ?? 'postgres', settings.pgDatabase ?? 'postgres'),
          databaseSchema: deps.audit.databaseSchema,
        },
        deps.audit,
      );
      return {
        id,
        ok: auditChains.every((check) => check.ok),
        checksums: 'ok' as const,
        trialRestore: 'ok' as const,
        auditChains,
      };
    } finally {
      await trial?.stop();
      await rm(scratch, { recursive: true, force: true });
    }
  }

  return { configure, list, create, restore, verify };
}

export type PgbackrestService = ReturnType<typeof createPgbackrestService>;
