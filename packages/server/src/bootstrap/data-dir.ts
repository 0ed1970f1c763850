import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';

/** Creates a directory only its owner can enter. */
export function ensurePrivateDir(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Writes a secret file with mode 0600, failing if it already exists (`wx`), so two processes starting at
 * once never overwrite each other's key.
 */
export function writeSecretFile(file: string, contents: string): boolean {
  try {
    writeFileSync(file, contents, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  chmodSync(file, 0o600);
  return true;
}
