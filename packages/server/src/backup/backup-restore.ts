import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { BackupError } from './backup-error.ts';
import type { BackupKeySet } from './backup-key.ts';
import { type CheckedBackup, checkChain, decryptFile } from './backup-reader.ts';
import { DATABASE_FILE, DATABASE_FILE_NAME, PAGES_FILE } from './backup-files.ts';
import { PAGE_RECORD_HEADER } from './page-map.ts';

/** Writes the pages of an incremental backup's page file into the database file being rebuilt. */
function pageWriter(handle: Awaited<ReturnType<typeof open>>, pageSize: number): Writable {
  const recordSize = PAGE_RECORD_HEADER + pageSize;
  let pending: Buffer = Buffer.alloc(0);
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const whole = Math.floor(pending.length / recordSize) * recordSize;
      const records = pending.subarray(0, whole);
      pending = pending.subarray(whole);
      void (async () => {
        for (let offset = 0; offset < records.length; offset += recordSize) {
          const pageNumber = records.readUInt32BE(offset);
          const page = records.subarray(offset + PAGE_RECORD_HEADER, offset + recordSize);
          await handle.write(page, 0, pageSize, (pageNumber - 1) * pageSize);
        }
      })().then(() => {
        callback();
      }, callback);
    },
    final(callback) {
      callback(pending.length === 0 ? null : new Error('the page file ends inside a page'));
    },
  });
}

/**
 * Rebuilds the database file a checked chain describes into `file` (which must not exist): the full
 * backup's file, then each incremental's changed pages written in place, cut to the last backup's page count.
 * Proves the result is byte for byte the database at the backup point (its SHA-256 is in the signed
 * manifest); anything else is refused.
 */
export async function rebuildDatabase(chain: readonly CheckedBackup[], file: string): Promise<void> {
  const [full, ...incrementals] = chain;
  const last = chain.at(-1);
  if (!full || !last) throw new BackupError('backup_corrupt', 'an empty backup chain');
  await decryptFile(full, DATABASE_FILE, createWriteStream(file, { mode: 0o600, flags: 'wx' }));
  const handle = await open(file, 'r+');
  try {
    for (const incremental of incrementals) {
      await decryptFile(incremental, PAGES_FILE, pageWriter(handle, incremental.manifest.pageSize));
    }
    await handle.truncate(last.manifest.pageCount * last.manifest.pageSize);
    await handle.sync();
  } finally {
    await handle.close();
  }
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  if (hash.digest('hex') !== last.manifest.databaseSha256) {
    throw new BackupError(
      'backup_corrupt',
      `backup ${last.manifest.id}: the rebuilt database differs from the one backed up`,
    );
  }
}

/** Gives a restored database a new stream epoch, so realtime clients resync (docs/realtime.md). */
function writeNewEpoch(file: string): string {
  const epoch = randomUUID();
  const db = new Database(file, { fileMustExist: true });
  try {
    db.prepare("update parley_meta set value = ? where key = 'epoch'").run(epoch);
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  return epoch;
}

async function assertEmptyTarget(target: string): Promise<void> {
  if (!existsSync(target)) return;
  let entries: string[];
  try {
    entries = await readdir(target);
  } catch {
    throw new BackupError('restore_target_not_empty', `the restore target ${target} is not a directory`);
  }
  if (entries.length > 0) {
    throw new BackupError(
      'restore_target_not_empty',
      `the restore target ${target} is not empty: restore only into an empty (or new) data directory`,
    );
  }
}

export interface RestoreResult {
  id: string;
  chain: string[];
  databaseFile: string;
  /** The epoch the backup held, and the new one the restored database got. */
  backupEpoch: string;
  epoch: string;
}

/**
 * Restores backup `id` (with the chain it needs) into `target`, an empty or new data directory: checks the
 * whole chain first (nothing is written if any byte is off), rebuilds the database aside, gives it a new
 * epoch, and only then names it `parley.db`.
 */
export async function restoreBackup(options: {
  backupDir: string;
  keys: BackupKeySet;
  id: string;
  target: string;
}): Promise<RestoreResult> {
  const { backupDir, keys, id, target } = options;
  await assertEmptyTarget(target);
  const chain = await checkChain(backupDir, id, keys);
  await mkdir(target, { recursive: true, mode: 0o700 });
  const staging = path.join(target, `.restoring-${DATABASE_FILE_NAME}`);
  const databaseFile = path.join(target, DATABASE_FILE_NAME);
  try {
    await rebuildDatabase(chain, staging);
    const epoch = writeNewEpoch(staging);
    await rename(staging, databaseFile);
    const last = chain.at(-1);
    return {
      id,
      chain: chain.map((backup) => backup.manifest.id),
      databaseFile,
      backupEpoch: last?.manifest.databaseEpoch ?? '',
      epoch,
    };
  } catch (error) {
    await rm(staging, { force: true });
    throw error;
  }
}
