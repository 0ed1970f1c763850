import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuditAnchors } from '../../src/compliance/audit/audit-anchors.ts';
import { AuditLog } from '../../src/compliance/audit/audit-log.ts';
import { createAuditPruner } from '../../src/compliance/audit/audit-pruner.ts';
import { openSecurityCore, type SecurityCore } from '../../src/crypto/security-core.ts';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import { migrateToLatest } from '../../src/storage/migrator.ts';
import { createTenantService } from '../../src/tenancy/tenant-service.ts';
import { createTestDatabase, type TestDatabase } from '../support/dialects.ts';

const run = promisify(execFile);
const parleyBin = path.resolve(import.meta.dirname, '../../bin/parley.js');

interface VerifyLine {
  tenantId?: string;
  ok: boolean;
  entries?: number;
  prunedThrough?: { seq: number };
  firstBad?: { seq?: number; reason: string };
}

async function auditVerify(env: Record<string, string>, tenantId: string) {
  const args = [parleyBin, 'audit', 'verify', '--tenant', tenantId];
  const parse = (stdout: string) =>
    stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as VerifyLine)
      .filter((line) => line.tenantId === tenantId);
  try {
    const { stdout } = await run(process.execPath, args, { env: { ...process.env, ...env } });
    return { code: 0, lines: parse(stdout) };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, lines: parse(failed.stdout) };
  }
}

/**
 * `parley audit verify`, the operator's check, on a chain audit retention pruned: intact with the gap
 * explained (`prunedThrough`), and exit 1 once someone who can write the database forges the record to cut
 * further. The server's default chain format (a checkpoint every 100 entries, plus time-based ones).
 */
describe('parley audit verify on a pruned chain [sqlite]', () => {
  let database: TestDatabase;
  let tenantId: string;
  const clock = { time: Date.parse('2026-01-01T00:00:00Z') };
  const now = () => clock.time;

  async function withDataDir(
    work: (storage: Storage, audit: AuditLog, security: SecurityCore) => Promise<void>,
  ): Promise<void> {
    const storage = openStorage({ dataDir: database.dataDir, databaseSchema: 'public', databasePoolSize: 1 });
    try {
      await migrateToLatest(storage);
      const security = await openSecurityCore({
        storage,
        clock: { now },
        masterKeyFile: path.join(database.dataDir, 'master.key'),
        erasureLogFile: path.join(database.dataDir, 'erasures.log'),
        generateIfMissing: true,
      });
      const audit = new AuditLog({
        fieldCipher: security.fieldCipher,
        signingKeys: security.signingKeys,
        clock: { now },
        dialect: 'sqlite',
        anchors: openAuditAnchors({
          file: path.join(database.dataDir, 'audit-anchors.log'),
          signingKeys: security.signingKeys,
          clock: { now },
        }),
      });
      await work(storage, audit, security);
    } finally {
      await storage.close();
    }
  }

  beforeAll(async () => {
    database = createTestDatabase('sqlite');
    await withDataDir(async (storage, audit, security) => {
      const tenants = createTenantService({ storage, clock: { now }, audit, setupTokenTtlSeconds: 60 });
      tenantId = (await tenants.createTenant('Pruned')).tenantId;
      const record = () =>
        storage.withTenant(tenantId, (tx) =>
          audit.append(tx, tenantId, {
            actor: { type: 'system' },
            action: 'message.sent',
            outcome: 'success',
            ip: '192.0.2.1',
          }),
        );
      for (let n = 0; n < 6; n += 1) await record();
      // The time-based checkpoint signs the old tail (seq 7), then the chain goes on a year later.
      await audit.sealAndAnchor(storage, [tenantId]);
      clock.time += 365 * 86_400_000;
      const cutOff = clock.time;
      for (let n = 0; n < 3; n += 1) await record();
      const pruner = createAuditPruner({
        storage,
        audit,
        signingKeys: security.signingKeys,
        clock: { now },
        checkpointEvery: audit.checkpointEvery,
      });
      expect(await pruner.prune(tenantId, { olderThan: cutOff })).toMatchObject({
        status: 'pruned',
        throughSeq: 7,
      });
    });
  });

  afterAll(async () => {
    await database.drop();
  });

  it('a pruned chain is intact, and the line says up to which entry it was pruned', async () => {
    const result = await auditVerify(database.env, tenantId);
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([
      expect.objectContaining({
        tenantId,
        ok: true,
        entries: 4,
        prunedThrough: expect.objectContaining({ seq: 7 }),
      }),
    ]);
  });

  it('attack: the record moved forward to cut more entries makes verify exit 1', async () => {
    await withDataDir(async (storage) => {
      await storage.withSystem(async (tx) => {
        const next = await tx
          .selectFrom('audit_log')
          .select(['seq', 'hash'])
          .where('tenant_id', '=', tenantId)
          .where('seq', '=', 8)
          .executeTakeFirstOrThrow();
        await tx.deleteFrom('audit_log').where('tenant_id', '=', tenantId).where('seq', '=', 8).execute();
        await tx
          .updateTable('audit_prunes')
          .set({ seq: next.seq, hash: next.hash, entries: 8 })
          .where('tenant_id', '=', tenantId)
          .execute();
      });
    });
    const result = await auditVerify(database.env, tenantId);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([
      expect.objectContaining({ ok: false, firstBad: { seq: 8, reason: 'prune record signature invalid' } }),
    ]);
  });
});
