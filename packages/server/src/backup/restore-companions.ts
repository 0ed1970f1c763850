import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir } from '../bootstrap/data-dir.ts';
import type { Config } from '../config.ts';
import { tenantPurgeRegisterFile } from '../crypto/tenant-purge-register.ts';

/**
 * The files a database needs that are deliberately not in its backups: the master key (without which the
 * restored data does not open) and the erasure and tenant-purge registers (re-applied at start-up, so that
 * nobody erased after the backup comes back). Where the configuration keeps them inside the current data
 * directory (the defaults), a server started on the restored directory with the same configuration would
 * look for them there, so they are copied over (mode 0600). Files kept elsewhere are used where they are.
 * The audit anchor file is not copied: it records the chains as they were before the restore.
 * Answers the paths copied, relative to the data directory.
 */
export function carryOutsideFiles(config: Config, target: string): string[] {
  const files = [config.erasureLogFile, tenantPurgeRegisterFile(config.erasureLogFile)];
  if (config.masterKey === undefined) files.unshift(config.masterKeyFile);
  const copied: string[] = [];
  for (const file of files) {
    const relative = path.relative(config.dataDir, file);
    if (relative.startsWith('..') || path.isAbsolute(relative) || !existsSync(file)) continue;
    const destination = path.join(target, relative);
    ensurePrivateDir(path.dirname(destination));
    copyFileSync(file, destination);
    copied.push(relative);
  }
  return copied;
}
