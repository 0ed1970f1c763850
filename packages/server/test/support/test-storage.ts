import path from 'node:path';
import { type Clock, systemClock } from '../../src/clock.ts';
import { AuditLog } from '../../src/compliance/audit/audit-log.ts';
import { createTenantService, type TenantService } from '../../src/tenancy/tenant-service.ts';
import { openSecurityCore, type SecurityCore } from '../../src/crypto/security-core.ts';
import { openStorage, type Storage, type StorageOptions } from '../../src/storage/database.ts';
import type { DialectName } from '../../src/storage/dialects/dialect-adapter.ts';
import { migrateToLatest } from '../../src/storage/migrator.ts';
import { createTestDatabase, type TestDatabase } from './dialects.ts';

/** A migrated database of the given dialect, with the security core opened on a fresh master key. */
export interface TestStorage {
  database: TestDatabase;
  storage: Storage;
  security: SecurityCore;
  masterKeyFile: string;
  erasureLogFile: string;
  close(): Promise<void>;
}

/** The tenant service over a test storage, auditing like the real one. */
export function testTenantService(
  t: Pick<TestStorage, 'storage' | 'security'>,
  clock: Clock = systemClock,
): TenantService {
  const audit = new AuditLog({
    fieldCipher: t.security.fieldCipher,
    signingKeys: t.security.signingKeys,
    clock,
    dialect: t.storage.dialect,
  });
  return createTenantService({ storage: t.storage, clock, audit, setupTokenTtlSeconds: 3600 });
}

/** How to open a test database's storage (its data dir, URL and schema, a pool of 4), with any overrides. */
export function testStorageOptions(
  database: TestDatabase,
  overrides: Partial<StorageOptions> = {},
): StorageOptions {
  return {
    dataDir: database.dataDir,
    databaseUrl: database.env.DATABASE_URL,
    databaseSchema: database.schema ?? 'public',
    databasePoolSize: 4,
    ...overrides,
  };
}

export async function openTestStorage(
  dialect: DialectName,
  clock: Clock = systemClock,
): Promise<TestStorage> {
  const database = createTestDatabase(dialect);
  const storage = openStorage(testStorageOptions(database));
  await migrateToLatest(storage);
  const masterKeyFile = path.join(database.dataDir, 'master.key');
  const erasureLogFile = path.join(database.dataDir, 'erasures.log');
  const security = await openSecurityCore({
    storage,
    clock,
    masterKeyFile,
    erasureLogFile,
    generateIfMissing: true,
  });
  return {
    database,
    storage,
    security,
    masterKeyFile,
    erasureLogFile,
    async close() {
      await storage.close();
      await database.drop();
    },
  };
}
