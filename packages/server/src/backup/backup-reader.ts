import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream, StreamIntegrityError } from '../crypto/stream-cipher.ts';
import { fileAssociatedData, INCOMPLETE_PREFIX } from './archive-writer.ts';
import { BackupError } from './backup-error.ts';
import { DATABASE_FILE, PAGE_MAP_FILE, PAGES_FILE } from './backup-files.ts';
import { type BackupKey, type BackupKeySet, keyFor } from './backup-key.ts';
import {
  BACKUP_ID,
  MANIFEST_FILE,
  type ManifestBody,
  parseManifest,
  verifyManifest,
} from './backup-manifest.ts';

/** One entry of the backup directory, as `parley backup list` shows it. */
export type ListedBackup =
  | { id: string; status: 'complete'; manifest: ManifestBody; signature: string }
  | { id: string; status: 'incomplete' | 'unreadable'; reason: string };

/**
 * Every backup in `backupDir`, oldest first. Only a directory renamed to its id with a manifest that parses
 * is `complete`; an `.incomplete-` directory (a backup cut short) is listed as such, never as a backup.
 * Listing checks no checksum or signature: `verify` does.
 */
export async function listBackups(backupDir: string): Promise<ListedBackup[]> {
  if (!existsSync(backupDir)) return [];
  const names = (await readdir(backupDir)).sort();
  const listed: ListedBackup[] = [];
  for (const name of names) {
    if (name.startsWith(INCOMPLETE_PREFIX)) {
      const id = name.slice(INCOMPLETE_PREFIX.length);
      listed.push({ id, status: 'incomplete', reason: 'the backup did not finish (no manifest)' });
      continue;
    }
    if (!BACKUP_ID.test(name)) continue;
    try {
      const text = await readFile(path.join(backupDir, name, MANIFEST_FILE), 'utf8');
      const { body, signature } = parseManifest(text, name);
      listed.push({ id: name, status: 'complete', manifest: body, signature });
    } catch (error) {
      listed.push({ id: name, status: 'unreadable', reason: (error as Error).message });
    }
  }
  return listed;
}

/** A backup whose manifest signature and every file checksum were checked. */
export interface CheckedBackup {
  manifest: ManifestBody;
  dir: string;
  key: BackupKey;
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Checks one backup: its manifest's signature under the backup key, then every file's size and SHA-256. */
export async function checkBackup(backupDir: string, id: string, keys: BackupKeySet): Promise<CheckedBackup> {
  if (!BACKUP_ID.test(id)) throw new BackupError('backup_not_found', `"${id}" is not a backup id`);
  const dir = path.join(backupDir, id);
  if (!existsSync(dir)) {
    const incomplete = existsSync(path.join(backupDir, `${INCOMPLETE_PREFIX}${id}`));
    throw incomplete
      ? new BackupError('backup_incomplete', `backup ${id} did not finish and cannot be used`)
      : new BackupError('backup_not_found', `no backup ${id} in ${backupDir}`);
  }
  let text: string;
  try {
    text = await readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    throw new BackupError('backup_corrupt', `backup ${id}: the manifest is missing`);
  }
  const manifest = parseManifest(text, id);
  const key = keyFor(keys, manifest.body.keyId, id);
  verifyManifest(manifest, key);
  // Exactly the files its kind is restored from: a restore never opens a file the manifest did not vouch for.
  const expected =
    manifest.body.kind === 'full' ? [DATABASE_FILE, PAGE_MAP_FILE] : [PAGES_FILE, PAGE_MAP_FILE];
  const listed = manifest.body.files.map((file) => file.name).sort();
  if (listed.join() !== expected.sort().join()) {
    throw new BackupError('backup_corrupt', `backup ${id}: the manifest lists ${listed.join(', ')}`);
  }
  for (const file of manifest.body.files) {
    const location = path.join(dir, file.name);
    const size = await stat(location).then(
      (found) => found.size,
      () => undefined,
    );
    if (size === undefined) throw new BackupError('backup_corrupt', `backup ${id}: ${file.name} is missing`);
    if (size !== file.bytes || (await sha256OfFile(location)) !== file.sha256) {
      throw new BackupError('backup_corrupt', `backup ${id}: ${file.name} does not match its checksum`);
    }
  }
  return { manifest: manifest.body, dir, key };
}

/**
 * The chain a restore of `id` needs, full backup first: each backup checked (signature, checksums) and linked
 * to its parent (same chain, same page size). Reads everything, writes nothing: a damaged chain is refused
 * before a restore starts.
 */
export async function checkChain(
  backupDir: string,
  id: string,
  keys: BackupKeySet,
): Promise<CheckedBackup[]> {
  const chain: CheckedBackup[] = [];
  let next: string | null = id;
  while (next !== null) {
    const checked = await checkBackup(backupDir, next, keys);
    const child = chain[0];
    if (
      child &&
      (checked.manifest.chainId !== child.manifest.chainId ||
        checked.manifest.pageSize !== child.manifest.pageSize)
    ) {
      throw new BackupError('backup_corrupt', `backup ${child.manifest.id} does not continue ${next}`);
    }
    chain.unshift(checked);
    next = checked.manifest.parentId;
    if (chain.length > 10_000)
      throw new BackupError('backup_corrupt', `backup ${id}: the chain does not end`);
  }
  const first = chain[0];
  if (first?.manifest.kind !== 'full' || first.manifest.chainId !== first.manifest.id) {
    throw new BackupError('backup_corrupt', `backup ${id}: its chain does not start with a full backup`);
  }
  return chain;
}

/**
 * The decrypted contents of one file of a checked backup, streamed into `sink`. An authentication failure
 * (after the checksums matched, only a key that is not the one the backup was made under) is a BackupError.
 */
export async function decryptFile(
  backup: CheckedBackup,
  name: string,
  sink: NodeJS.WritableStream,
): Promise<void> {
  try {
    await pipeline(
      createReadStream(path.join(backup.dir, name)),
      createDecryptStream(backup.key.encryptionKey, fileAssociatedData(backup.manifest.id, name)),
      sink,
    );
  } catch (error) {
    if (error instanceof StreamIntegrityError) {
      throw new BackupError(
        'backup_corrupt',
        `backup ${backup.manifest.id}: ${name} does not open under backup key ${backup.key.id} (${error.message})`,
      );
    }
    throw error;
  }
}

/** The whole decrypted contents of a small file of a checked backup (the page map). */
export async function decryptSmallFile(backup: CheckedBackup, name: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  await decryptFile(
    backup,
    name,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        parts.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(parts);
}
