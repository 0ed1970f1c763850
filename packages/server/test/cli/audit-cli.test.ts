import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { SYSTEM_TENANT_ID } from '../../src/compliance/audit/audit-entry.ts';
import { AuditLog } from '../../src/compliance/audit/audit-log.ts';
import { openSecurityCore } from '../../src/crypto/security-core.ts';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import { migrateToLatest } from '../../src/storage/migrator.ts';
import { createTenantService } from '../../src/tenancy/tenant-service.ts';
import { createTestDatabase, type TestDatabase } from '../support/dialects.ts';

const run = promisify(execFile);
const parleyBin = path.resolve(import.meta.dirname, '../../bin/parley.js');

interface VerifyLine {
  tenantId: string;
  ok: boolean;
  entries: number;
  firstBad?: { seq: number; reason: string };
}

async function auditVerify(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout } = await run(process.execPath, [parleyBin, 'audit', 'verify', ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, lines: parseLines(stdout) };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, lines: parseLines(failed.stdout), stderr: failed.stderr };
  }
}

const parseLines = (stdout: string): VerifyLine[] =>
  stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as VerifyLine);

describe('parley audit verify [sqlite]', () => {
  let database: TestDatabase;
  let tenantA: string;
  let tenantB: string;

  /** Opens the data dir the CLI uses, in this process, and always closes it before the CLI runs. */
  async function withDataDir(work: (storage: Storage, audit: AuditLog) => Promise<void>): Promise<void> {
    const storage = openStorage({
      dataDir: database.dataDir,
      databaseSchema: 'public',
      databasePoolSize: 1,
    });
    try {
      await migrateToLatest(storage);
      const security = await openSecurityCore({
        storage,
        clock: systemClock,
        masterKeyFile: path.join(database.dataDir, 'master.key'),
        erasureLogFile: path.join(database.dataDir, 'erasures.log'),
        generateIfMissing: true,
      });
      const audit = new AuditLog({
        fieldCipher: security.fieldCipher,
        signingKeys: security.signingKeys,
        clock: systemClock,
        dialect: 'sqlite',
        checkpointEvery: 2,
      });
      await work(storage, audit);
    } finally {
      await storage.close();
    }
  }

  beforeAll(async () => {
    database = createTestDatabase('sqlite');
    await withDataDir(async (storage, audit) => {
      const tenants = createTenantService({ storage, clock: systemClock, audit, setupTokenTtlSeconds: 60 });
      tenantA = (await tenants.createTenant('Tenant A')).tenantId;
      tenantB = (await tenants.createTenant('Tenant B')).tenantId;
      const record = (tenantId: string, action: string) =>
        storage.withTenant(tenantId, (tx) =>
          audit.append(tx, tenantId, {
            actor: { type: 'system' },
            action,
            outcome: 'success',
            ip: '192.0.2.1',
          }),
        );
      for (let n = 0; n < 5; n += 1) await record(tenantA, 'message.sent');
      for (let n = 0; n < 3; n += 1) await record(tenantB, 'message.sent');
      await storage.withTenant(SYSTEM_TENANT_ID, (tx) =>
        audit.append(tx, SYSTEM_TENANT_ID, {
          actor: { type: 'system' },
          action: 'server.started', // after the two tenant.created entries
          outcome: 'success',
        }),
      );
    });
  });

  afterAll(async () => {
    await database.drop();
  });

  it('verifies every tenant and the system chain, one JSON line each, exit 0 when intact', async () => {
    const result = await auditVerify(database.env);
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([
      { tenantId: tenantA, ok: true, entries: 5, checkpoints: 2 },
      { tenantId: tenantB, ok: true, entries: 3, checkpoints: 1 },
      { tenantId: SYSTEM_TENANT_ID, ok: true, entries: 3, checkpoints: 1 },
    ]);
  });

  it('verifies one tenant with --tenant', async () => {
    const result = await auditVerify(database.env, '--tenant', tenantB);
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([{ tenantId: tenantB, ok: true, entries: 3, checkpoints: 1 }]);
  });

  it('exits 1 and names the first bad entry when a chain was edited in the database', async () => {
    await withDataDir((storage) =>
      storage.withTenant(tenantA, async (tx) => {
        await tx
          .updateTable('audit_log')
          .set({ action: 'message.read' })
          .where('tenant_id', '=', tenantA)
          .where('seq', '=', 4)
          .execute();
      }),
    );
    const result = await auditVerify(database.env);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([
      {
        tenantId: tenantA,
        ok: false,
        entries: 3,
        firstBad: { seq: 4, id: expect.any(String), reason: 'hash mismatch' },
      },
      { tenantId: tenantB, ok: true, entries: 3, checkpoints: 1 },
      { tenantId: SYSTEM_TENANT_ID, ok: true, entries: 3, checkpoints: 1 },
    ]);
    expect((await auditVerify(database.env, '--tenant', tenantB)).code).toBe(0);
  });
});
