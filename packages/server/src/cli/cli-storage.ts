import { systemClock } from '../clock.ts';
import type { SecurityCore } from '../crypto/security-core.ts';
import { loadConfig, type Config } from '../config.ts';
import { ensurePrivateDir } from '../bootstrap/data-dir.ts';
import type { Storage } from '../storage/database.ts';

/** Opens (and migrates) the configured database for a one-shot CLI command, and always closes it. */
export async function withCliStorage<T>(work: (storage: Storage, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  ensurePrivateDir(config.dataDir);
  // Loaded when a command runs, not when the CLI starts: `parley --help` needs no database driver.
  const [{ openStorage }, { migrateToLatest }] = await Promise.all([
    import('../storage/database.ts'),
    import('../storage/migrator.ts'),
  ]);
  const storage = openStorage(config);
  try {
    await migrateToLatest(storage);
    return await work(storage, config);
  } finally {
    await storage.close();
  }
}

/**
 * As `withCliStorage`, with the security core opened on the configured master key. A key is generated only
 * for a database that nothing was sealed in yet (the keyring refuses a new key for sealed data).
 */
export async function withCliSecurity<T>(
  work: (storage: Storage, security: SecurityCore, config: Config) => Promise<T>,
): Promise<T> {
  return withCliStorage(async (storage, config) => {
    const { openSecurityCore } = await import('../crypto/security-core.ts');
    const security = await openSecurityCore({
      storage,
      clock: systemClock,
      masterKeyFile: config.masterKeyFile,
      masterKeyEnvironment: config.masterKey,
      generateIfMissing: true,
      erasureLogFile: config.erasureLogFile,
    });
    return work(storage, security, config);
  });
}
