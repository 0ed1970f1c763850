import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createEncryptStream } from '../crypto/stream-cipher.ts';
import type { BackupKey } from './backup-key.ts';
import { MANIFEST_FILE } from './backup-manifest.ts';

/** Prefix of a backup still being written; never listed as a backup, removed by retention once stale. */
export const INCOMPLETE_PREFIX = '.incomplete-';

export interface WrittenFile {
  name: string;
  bytes: number;
  sha256: string;
}

/**
 * Binds a backup file's ciphertext to its backup and name: a file moved into another backup, or renamed
 * within one, fails authentication.
 */
export function fileAssociatedData(backupId: string, name: string): Buffer {
  return Buffer.from(`parley-backup/1\0${backupId}\0${name}`, 'utf8');
}

async function fsyncPath(target: string): Promise<void> {
  const handle = await open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes one backup so that it is listed only once it is whole: every file goes into
 * `<backup dir>/.incomplete-<id>/`, is fsynced, the signed manifest comes last, and only then is the
 * directory renamed to `<id>` (and the backup dir fsynced so the rename survives a crash). A crash or a full
 * disk at any point leaves at most an `.incomplete-` directory, which nothing reads as a backup.
 */
export class ArchiveWriter {
  readonly workDir: string;
  readonly finalDir: string;

  constructor(
    readonly backupDir: string,
    readonly backupId: string,
  ) {
    this.workDir = path.join(backupDir, `${INCOMPLETE_PREFIX}${backupId}`);
    this.finalDir = path.join(backupDir, backupId);
  }

  async begin(): Promise<void> {
    await mkdir(this.backupDir, { recursive: true, mode: 0o700 });
    await mkdir(this.workDir, { mode: 0o700 });
  }

  /** Encrypts `source` into `name` (streamed, chunk by chunk) and answers the ciphertext's size and SHA-256. */
  async writeEncrypted(
    name: string,
    source: AsyncIterable<Buffer> | Iterable<Buffer>,
    key: BackupKey,
  ): Promise<WrittenFile> {
    const file = path.join(this.workDir, name);
    const hash = createHash('sha256');
    let bytes = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        bytes += chunk.length;
        callback(null, chunk);
      },
    });
    await pipeline(
      Readable.from(source),
      createEncryptStream(key.encryptionKey, fileAssociatedData(this.backupId, name)),
      measure,
      createWriteStream(file, { mode: 0o600, flags: 'wx' }),
    );
    await fsyncPath(file);
    return { name, bytes, sha256: hash.digest('hex') };
  }

  /** Writes the manifest last, then makes the backup visible under its id. */
  async commit(manifest: string): Promise<void> {
    const temporary = path.join(this.workDir, `${MANIFEST_FILE}.tmp`);
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(manifest, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path.join(this.workDir, MANIFEST_FILE));
    await fsyncPath(this.workDir);
    await rename(this.workDir, this.finalDir);
    await fsyncPath(this.backupDir);
  }

  /** Removes what an unfinished backup wrote; never throws (the disk may be the reason it failed). */
  async abandon(): Promise<void> {
    await rm(this.workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
