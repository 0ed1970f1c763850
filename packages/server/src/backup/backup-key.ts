import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ensurePrivateDir, writeSecretFile } from '../bootstrap/data-dir.ts';
import { BackupError } from './backup-error.ts';

const keyFileSchema = z.object({
  format: z.literal('parley-backup-key/1'),
  keys: z
    .array(
      z.object({
        createdAt: z.string(),
        encryptionKey: z
          .string()
          .refine((value) => Buffer.from(value, 'base64').length === 32, 'must be 32 bytes (base64)'),
        /** Ed25519 private key, PKCS#8 DER, base64. */
        signingKey: z.string().min(1),
      }),
    )
    .min(1),
});

/**
 * One backup key: an AES-256 key that encrypts backup files and an Ed25519 key pair that signs manifests.
 * `id` is a fingerprint of both (never the key): a manifest names the key it was made under, so a wrong
 * key file is named as such instead of failing as "corrupt".
 */
export interface BackupKey {
  readonly id: string;
  readonly encryptionKey: Buffer;
  readonly signingKey: KeyObject;
  readonly verifyKey: KeyObject;
}

/** The keys of the backup key file: the newest makes new backups, every one opens the backups it made. */
export interface BackupKeySet {
  readonly file: string;
  readonly active: BackupKey;
  get(id: string): BackupKey | undefined;
  readonly ids: readonly string[];
}

function toKey(entry: { encryptionKey: string; signingKey: string }): BackupKey {
  const encryptionKey = Buffer.from(entry.encryptionKey, 'base64');
  const signingKey = createPrivateKey({
    key: Buffer.from(entry.signingKey, 'base64'),
    format: 'der',
    type: 'pkcs8',
  });
  if (signingKey.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key');
  const verifyKey = createPublicKey(signingKey);
  const id = createHash('sha256')
    .update('parley-backup-key/1\0')
    .update(encryptionKey)
    .update(verifyKey.export({ format: 'der', type: 'spki' }))
    .digest('hex')
    .slice(0, 16);
  return { id, encryptionKey, signingKey, verifyKey };
}

function parseKeyFile(file: string): BackupKeySet {
  let keys: BackupKey[];
  try {
    const parsed = keyFileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    keys = parsed.keys.map(toKey);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EACCES') {
      throw new BackupError('backup_key_invalid', `the backup key file ${file} cannot be read`);
    }
    throw new BackupError(
      'backup_key_invalid',
      `the backup key file ${file} is malformed (expected format parley-backup-key/1)`,
    );
  }
  const active = keys.at(-1);
  if (!active) throw new BackupError('backup_key_invalid', `the backup key file ${file} holds no keys`);
  return { file, active, get: (id) => keys.find((key) => key.id === id), ids: keys.map((key) => key.id) };
}

/**
 * Opens the backup key file. When it does not exist yet, `generate` creates it (mode 0600, refusing to
 * overwrite one another process just wrote) and says so through `onGenerated`, so the operator learns
 * that a key now exists that must be kept apart from the data dir; otherwise a missing file is an error.
 */
export function openBackupKeys(
  file: string,
  options: { generate: boolean; onGenerated?: (file: string) => void },
): BackupKeySet {
  if (existsSync(file)) return parseKeyFile(file);
  if (!options.generate) {
    throw new BackupError(
      'backup_key_invalid',
      `the backup key file ${file} does not exist (PARLEY_BACKUP_KEY_FILE): backups cannot be read without the key they were made under`,
    );
  }
  ensurePrivateDir(path.dirname(file));
  const { privateKey } = generateKeyPairSync('ed25519');
  const contents = {
    format: 'parley-backup-key/1',
    keys: [
      {
        createdAt: new Date().toISOString(),
        encryptionKey: randomBytes(32).toString('base64'),
        signingKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
      },
    ],
  };
  if (writeSecretFile(file, `${JSON.stringify(contents, null, 2)}\n`)) options.onGenerated?.(file);
  return parseKeyFile(file);
}

/** The key a backup was made under, or a message that says plainly that this is the wrong key file. */
export function keyFor(keys: BackupKeySet, keyId: string, backupId: string): BackupKey {
  const key = keys.get(keyId);
  if (key) return key;
  throw new BackupError(
    'backup_key_wrong',
    `wrong backup key: backup ${backupId} was made under backup key ${keyId}, but ${keys.file} holds ${keys.ids.join(', ')} (set PARLEY_BACKUP_KEY_FILE to the key file the backup was made with)`,
  );
}
