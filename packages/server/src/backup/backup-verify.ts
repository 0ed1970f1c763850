import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../clock.ts';
import { SYSTEM_TENANT_ID } from '../compliance/audit/audit-entry.ts';
import { AuditLog } from '../compliance/audit/audit-log.ts';
import { openSecurityCore } from '../crypto/security-core.ts';
import { openStorage } from '../storage/database.ts';
import { migrateToLatest } from '../storage/migrator.ts';
import { provenPurges } from '../tenancy/tenant-purge.ts';
import type { BackupKeySet } from './backup-key.ts';
import { DATABASE_FILE_NAME } from './backup-files.ts';
import { checkChain } from './backup-reader.ts';
import { rebuildDatabase } from './backup-restore.ts';
import { workPath } from './backup-work-dir.ts';

export interface ChainCheck {
  tenantId: string;
  ok: boolean;
  entries?: number;
  purged?: boolean;
  firstBad?: unknown;
}

export interface VerifyReport {
  id: string;
  ok: boolean;
  /** Oldest first: the full backup, then each incremental up to `id`. */
  chain: string[];
  /** Every manifest signature and file checksum of the chain matched (else verification threw). */
  checksums: 'ok';
  /** The trial restore rebuilt the database byte for byte (SHA-256 in the manifest). */
  trialRestore: 'ok';
  /** SQLite's own structural check of the restored file. */
  integrity: string;
  auditChains: ChainCheck[];
}

export interface VerifyOptions {
  backupDir: string;
  keys: BackupKeySet;
  id: string;
  /** A directory for the trial restore; a fresh subdirectory is made in it and removed afterwards. */
  scratchDir: string;
  masterKeyFile: string;
  masterKeyEnvironment: string | undefined;
  erasureLogFile: string;
  clock: Clock;
}

/** What the audit chain check needs besides the database: the keys the checkpoints are signed under. */
export type AuditCheckOptions = Pick<
  VerifyOptions,
  'masterKeyFile' | 'masterKeyEnvironment' | 'erasureLogFile' | 'clock'
>;

/**
 * Recomputes every audit chain of a restored database (as `parley audit verify`, without the anchors): the
 * SQLite file in `place.dataDir`, or the PostgreSQL database at `place.databaseUrl` (pgBackRest's trial restore).
 */
export async function checkAuditChains(
  place: { dataDir: string; databaseUrl?: string; databaseSchema?: string },
  options: AuditCheckOptions,
): Promise<ChainCheck[]> {
  const storage = openStorage({
    dataDir: place.dataDir,
    ...(place.databaseUrl === undefined ? {} : { databaseUrl: place.databaseUrl }),
    databaseSchema: place.databaseSchema ?? 'public',
    databasePoolSize: 1,
  });
  try {
    await migrateToLatest(storage);
    const security = await openSecurityCore({
      storage,
      clock: options.clock,
      masterKeyFile: options.masterKeyFile,
      masterKeyEnvironment: options.masterKeyEnvironment,
      generateIfMissing: false,
      erasureLogFile: options.erasureLogFile,
    });
    const auditLog = new AuditLog({
      fieldCipher: security.fieldCipher,
      signingKeys: security.signingKeys,
      clock: options.clock,
      dialect: storage.dialect,
    });
    const tenants = await storage.withSystem((tx) =>
      tx.selectFrom('tenants').select('id').where('id', '!=', SYSTEM_TENANT_ID).orderBy('id').execute(),
    );
    const purged = await provenPurges(storage, security.signingKeys);
    const checks: ChainCheck[] = [];
    for (const tenantId of [...tenants.map((row) => row.id), SYSTEM_TENANT_ID]) {
      if (purged.has(tenantId)) {
        checks.push({ tenantId, ok: true, purged: true });
        continue;
      }
      const result = await auditLog.verify(storage, tenantId, { mustExist: tenantId !== SYSTEM_TENANT_ID });
      checks.push(
        result.ok
          ? { tenantId, ok: true, entries: result.entries }
          : { tenantId, ok: false, entries: result.entries, firstBad: result.firstBad },
      );
    }
    return checks;
  } finally {
    await storage.close();
  }
}

/**
 * Verifies backup `id` as a restore would use it: every signature and checksum of its chain, then a trial
 * restore into a scratch directory (the rebuilt file must hash to the manifest's SHA-256), SQLite's
 * integrity check, and the audit chain check on the restored database. Needs the master key: the audit
 * checkpoints are signed with keys it seals.
 */
export async function verifyBackup(options: VerifyOptions): Promise<VerifyReport> {
  const chain = await checkChain(options.backupDir, options.id, options.keys);
  const scratch = await workPath(options.scratchDir, 'verify');
  await mkdir(scratch, { recursive: true, mode: 0o700 });
  try {
    const file = path.join(scratch, DATABASE_FILE_NAME);
    await rebuildDatabase(chain, file);
    const db = new Database(file, { fileMustExist: true });
    let integrity: string;
    try {
      integrity = (db.pragma('integrity_check') as { integrity_check: string }[])
        .map((row) => row.integrity_check)
        .join('; ');
    } finally {
      db.close();
    }
    const auditChains = integrity === 'ok' ? await checkAuditChains({ dataDir: scratch }, options) : [];
    return {
      id: options.id,
      ok: integrity === 'ok' && auditChains.every((check) => check.ok),
      chain: chain.map((backup) => backup.manifest.id),
      checksums: 'ok',
      trialRestore: 'ok',
      integrity,
      auditChains,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
