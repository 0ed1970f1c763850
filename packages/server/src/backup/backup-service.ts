import { rm } from 'node:fs/promises';
import type { Clock } from '../clock.ts';
import type { Storage } from '../storage/database.ts';
import { parleyVersion } from '../version.ts';
import { ArchiveWriter, type WrittenFile } from './archive-writer.ts';
import { BackupError, targetError } from './backup-error.ts';
import { DATABASE_FILE, PAGE_MAP_FILE, PAGES_FILE } from './backup-files.ts';
import { type BackupKeySet, openBackupKeys } from './backup-key.ts';
import {
  type BackupKind,
  type ManifestBody,
  MANIFEST_FORMAT,
  newBackupId,
  serializeManifest,
} from './backup-manifest.ts';
import { type CheckedBackup, checkBackup, decryptSmallFile, listBackups } from './backup-reader.ts';
import { pruneBackups } from './backup-retention.ts';
import { recordBackupAttempt } from './backup-state.ts';
import { workPath } from './backup-work-dir.ts';
import { once, SnapshotPages } from './page-map.ts';
import { type SnapshotFacts, snapshotSqlite } from './sqlite-snapshot.ts';

export interface BackupServiceOptions {
  /** The embedded database (`<data dir>/parley.db`). */
  databaseFile: string;
  /** Where the plaintext snapshot is taken before it is encrypted: beside the database, never the target. */
  workDir: string;
  backupDir: string;
  keyFile: string;
  retentionDays: number;
  clock: Clock;
  /** Where each attempt's outcome is recorded (the alerts read it). */
  storage: Storage;
  /** Told once when the first backup generates the backup key file. */
  onKeyGenerated?: (file: string) => void;
}

export interface BackupResult {
  id: string;
  kind: BackupKind;
  chainId: string;
  parentId: string | null;
  /** Why an incremental backup that was asked for became a full one. */
  fullBecause?: string;
  pageCount: number;
  storedPages: number;
  bytes: number;
  durationMs: number;
  deleted: string[];
}

interface Parent {
  backup: CheckedBackup;
  pageMap: Buffer;
}

/**
 * Takes backups of the embedded SQLite database (docs/backups.md): a consistent snapshot while the server
 * runs, encrypted file by file under the backup key, with a signed manifest written last. A full backup holds
 * every page; an incremental holds the pages whose hash differs from its parent's page map (the previous
 * backup of the newest chain). Backups of one service never overlap.
 */
export function createBackupService(options: BackupServiceOptions) {
  let queue: Promise<unknown> = Promise.resolve();

  /** The newest complete backup, if it can carry an incremental of the snapshot just taken. */
  async function parentFor(keys: BackupKeySet, facts: SnapshotFacts): Promise<Parent | string> {
    const newest = (await listBackups(options.backupDir))
      .filter((entry) => entry.status === 'complete')
      .at(-1);
    if (!newest) return 'there is no earlier backup';
    let backup: CheckedBackup;
    try {
      backup = await checkBackup(options.backupDir, newest.id, keys);
    } catch (error) {
      return `the newest backup ${newest.id} cannot be used (${(error as Error).message})`;
    }
    if (backup.manifest.databaseEpoch !== facts.epoch)
      return 'the database was restored since the last backup';
    if (backup.manifest.pageSize !== facts.pageSize) return 'the page size changed';
    return { backup, pageMap: await decryptSmallFile(backup, PAGE_MAP_FILE) };
  }

  async function writeBackup(
    keys: BackupKeySet,
    kind: BackupKind,
    parent: Parent | undefined,
    snapshot: SnapshotPages,
    facts: SnapshotFacts,
  ): Promise<{ manifest: ManifestBody; files: WrittenFile[] }> {
    const id = newBackupId(kind, options.clock.now());
    const writer = new ArchiveWriter(options.backupDir, id);
    const key = keys.active;
    try {
      await writer.begin();
      const changed = { count: 0 };
      const files = [
        parent
          ? await writer.writeEncrypted(PAGES_FILE, snapshot.changedPages(parent.pageMap, changed), key)
          : await writer.writeEncrypted(DATABASE_FILE, snapshot.wholeFile(), key),
      ];
      files.push(await writer.writeEncrypted(PAGE_MAP_FILE, once(snapshot.pageMap), key));
      const manifest: ManifestBody = {
        format: MANIFEST_FORMAT,
        id,
        kind,
        chainId: parent ? parent.backup.manifest.chainId : id,
        parentId: parent ? parent.backup.manifest.id : null,
        createdAt: new Date(options.clock.now()).toISOString(),
        dialect: 'sqlite',
        parleyVersion,
        databaseEpoch: facts.epoch,
        pageSize: facts.pageSize,
        pageCount: facts.pageCount,
        storedPages: parent ? changed.count : facts.pageCount,
        databaseSha256: snapshot.fileSha256,
        keyId: key.id,
        files,
      };
      await writer.commit(serializeManifest(manifest, key));
      return { manifest, files };
    } catch (error) {
      await writer.abandon();
      throw targetError(error, options.backupDir);
    }
  }

  async function run(requested: BackupKind): Promise<BackupResult> {
    const started = options.clock.now();
    const keys = openBackupKeys(options.keyFile, {
      generate: true,
      ...(options.onKeyGenerated ? { onGenerated: options.onKeyGenerated } : {}),
    });
    const snapshotFile = await workPath(options.workDir, 'snapshot');
    try {
      let facts: SnapshotFacts;
      try {
        facts = await snapshotSqlite(options.databaseFile, snapshotFile);
      } catch (error) {
        throw targetError(error, options.workDir);
      }
      const parent = requested === 'incremental' ? await parentFor(keys, facts) : undefined;
      const usable = typeof parent === 'object' ? parent : undefined;
      const kind: BackupKind = usable ? 'incremental' : 'full';
      const snapshot = new SnapshotPages(snapshotFile, facts.pageSize, facts.pageCount);
      const { manifest, files } = await writeBackup(keys, kind, usable, snapshot, facts);
      const deleted = await pruneBackups(options.backupDir, options.clock.now(), options.retentionDays);
      return {
        id: manifest.id,
        kind,
        chainId: manifest.chainId,
        parentId: manifest.parentId,
        ...(typeof parent === 'string' ? { fullBecause: parent } : {}),
        pageCount: manifest.pageCount,
        storedPages: manifest.storedPages,
        bytes: files.reduce((sum, file) => sum + file.bytes, 0),
        durationMs: options.clock.now() - started,
        deleted,
      };
    } finally {
      await rm(snapshotFile, { force: true });
    }
  }

  /** Takes one backup and records its outcome; throws a BackupError when it failed (nothing is listed). */
  async function create(requested: BackupKind): Promise<BackupResult> {
    const attempt = queue.then(async () => {
      const at = options.clock.now();
      // The record is for the alerts; failing to write it (the database is away) changes no outcome.
      const record = (attempt: Parameters<typeof recordBackupAttempt>[1]) =>
        recordBackupAttempt(options.storage, attempt).catch(() => undefined);
      try {
        const result = await run(requested);
        await record({ at, kind: result.kind, errorCode: null, id: result.id, bytes: result.bytes });
        return result;
      } catch (error) {
        const failure = error instanceof BackupError ? error : targetError(error, options.backupDir);
        await record({ at, kind: requested, errorCode: failure.code, id: null });
        throw failure;
      }
    });
    queue = attempt.catch(() => undefined);
    return attempt;
  }

  return { create };
}

export type BackupService = ReturnType<typeof createBackupService>;
