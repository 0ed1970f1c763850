import { loadConfig, type Config } from '../config.ts';
import { ensurePrivateDir } from '../bootstrap/data-dir.ts';
import { openStorage, type Storage } from '../storage/database.ts';
import { migrateToLatest } from '../storage/migrator.ts';

/** Opens (and migrates) the configured database for a one-shot CLI command, and always closes it. */
export async function withCliStorage<T>(work: (storage: Storage, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  ensurePrivateDir(config.dataDir);
  const storage = openStorage(config);
  try {
    await migrateToLatest(storage);
    return await work(storage, config);
  } finally {
    await storage.close();
  }
}
