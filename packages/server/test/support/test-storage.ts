import path from 'node:path';
import { type Clock, systemClock } from '../../src/clock.ts';
import { openSecurityCore, type SecurityCore } from '../../src/crypto/security-core.ts';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import type { DialectName } from '../../src/storage/dialects/dialect-adapter.ts';
import { migrateToLatest } from '../../src/storage/migrator.ts';
import { createTestDatabase, type TestDatabase } from './dialects.ts';

/** A migrated database of the given dialect, with the security core opened on a fresh master key. */
export interface TestStorage {
  database: TestDatabase;
  storage: Storage;
  security: SecurityCore;
  masterKeyFile: string;
  close(): Promise<void>;
}

export async function openTestStorage(
  dialect: DialectName,
  clock: Clock = systemClock,
): Promise<TestStorage> {
  const database = createTestDatabase(dialect);
  const storage = openStorage({
    dataDir: database.dataDir,
    databaseUrl: database.env.DATABASE_URL,
    databaseSchema: database.schema ?? 'public',
    databasePoolSize: 4,
  });
  await migrateToLatest(storage);
  const masterKeyFile = path.join(database.dataDir, 'master.key');
  const security = await openSecurityCore({ storage, clock, masterKeyFile, generateIfMissing: true });
  return {
    database,
    storage,
    security,
    masterKeyFile,
    async close() {
      await storage.close();
      await database.drop();
    },
  };
}
