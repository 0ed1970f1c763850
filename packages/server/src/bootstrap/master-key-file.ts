import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir, writeSecretFile } from './data-dir.ts';

/** On-disk format of the master key file: versioned so rotation can add keys without losing old ones. */
export interface MasterKeyFile {
  format: 'parley-master-key/1';
  keys: { version: number; createdAt: string; key: string }[];
}

/** Generates a 256-bit master key file on first start; returns true when it made one. */
export function ensureMasterKeyFile(file: string, now: Date = new Date()): boolean {
  if (existsSync(file)) return false;
  ensurePrivateDir(path.dirname(file));
  const contents: MasterKeyFile = {
    format: 'parley-master-key/1',
    keys: [{ version: 1, createdAt: now.toISOString(), key: randomBytes(32).toString('base64') }],
  };
  return writeSecretFile(file, `${JSON.stringify(contents, null, 2)}\n`);
}
