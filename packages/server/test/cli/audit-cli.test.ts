import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { openAuditAnchors } from '../../src/compliance/audit/audit-anchors.ts';
import { PLATFORM_CHAIN_ID, SYSTEM_TENANT_ID } from '../../src/compliance/audit/audit-entry.ts';
import { AuditLog } from '../../src/compliance/audit/audit-log.ts';
import { openSecurityCore } from '../../src/crypto/security-core.ts';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import { migrateToLatest } from '../../src/storage/migrator.ts';
import { createTenantService } from '../../src/tenancy/tenant-service.ts';
import { createTestDatabase, type TestDatabase } from '../support/dialects.ts';

const run = promisify(execFile);
const parleyBin = path.resolve(import.meta.dirname, '../../bin/parley.js');

interface VerifyLine {
  tenantId?: string;
  anchorFile?: string;
  lines?: number;
  ok: boolean;
  entries?: number;
  firstBad?: { seq?: number; line?: number; reason: string };
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
  const anchorFile = () => path.join(database.dataDir, 'audit-anchors.log');
  const anchorLine = (lines: number) => ({ anchorFile: anchorFile(), ok: true, lines });

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
        anchors: openAuditAnchors({
          file: anchorFile(),
          signingKeys: security.signingKeys,
          clock: systemClock,
        }),
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

  // Each tenant chain starts with `tenant.created`, checkpointed and anchored at once; the system chain
  // holds both tenants' `tenant.created` and `server.started`. Four anchor lines: each tenant's seq 1 and
  // the system chain's head after each creation.
  it('verifies the anchor file, then every tenant, the system and the platform chain, one JSON line each, exit 0 when intact', async () => {
    const result = await auditVerify(database.env);
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([
      anchorLine(4),
      { tenantId: tenantA, ok: true, entries: 6, checkpoints: 4 },
      { tenantId: tenantB, ok: true, entries: 4, checkpoints: 3 },
      { tenantId: SYSTEM_TENANT_ID, ok: true, entries: 3, checkpoints: 2 },
      // No staff here yet: the operator staff chain is empty, and verifies as such.
      { tenantId: PLATFORM_CHAIN_ID, ok: true, entries: 0, checkpoints: 0 },
    ]);
  });

  it('verifies one tenant with --tenant', async () => {
    const result = await auditVerify(database.env, '--tenant', tenantB);
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([
      anchorLine(4),
      // The previous run recorded its read in the chain (operator.cli_access): one entry more.
      { tenantId: tenantB, ok: true, entries: 5, checkpoints: 3 },
    ]);
  });

  /**
   * Attack: cut tenant B's chain back (entries and checkpoints after seq 2 deleted, head moved back), so
   * every remaining link and signature is genuine. The anchor file pinned seq 4.
   */
  it('exits 1 and reports a chain cut back behind its anchor (truncation)', async () => {
    await withDataDir(async (storage, audit) => {
      expect(await audit.anchor(storage, [tenantA, tenantB, SYSTEM_TENANT_ID])).toBe(3);
      await storage.withTenant(tenantB, async (tx) => {
        await tx
          .deleteFrom('audit_checkpoints')
          .where('tenant_id', '=', tenantB)
          .where('seq', '>', 2)
          .execute();
        await tx.deleteFrom('audit_log').where('tenant_id', '=', tenantB).where('seq', '>', 2).execute();
        const [second] = await tx
          .selectFrom('audit_log')
          .select('hash')
          .where('tenant_id', '=', tenantB)
          .where('seq', '=', 2)
          .execute();
        await tx
          .updateTable('audit_heads')
          .set({ seq: 2, hash: second?.hash ?? '' })
          .where('tenant_id', '=', tenantB)
          .execute();
      });
    });
    const result = await auditVerify(database.env, '--tenant', tenantB);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([
      anchorLine(7),
      { tenantId: tenantB, ok: false, entries: 2, firstBad: { seq: 3, reason: 'anchored entry missing' } },
    ]);
  });

  /** Attack: delete a tenant together with its whole chain; only the anchor file still knows of it. */
  it('exits 1 and reports a tenant deleted with its chain', async () => {
    let tenantC = '';
    await withDataDir(async (storage, audit) => {
      const tenants = createTenantService({ storage, clock: systemClock, audit, setupTokenTtlSeconds: 60 });
      tenantC = (await tenants.createTenant('Tenant C')).tenantId;
      await storage.withSystem(async (tx) => {
        for (const table of [
          'audit_checkpoints',
          'audit_log',
          'audit_heads',
          'tenant_setup_tokens',
        ] as const) {
          await tx.deleteFrom(table).where('tenant_id', '=', tenantC).execute();
        }
        await tx.deleteFrom('tenants').where('id', '=', tenantC).execute();
      });
    });
    const result = await auditVerify(database.env);
    expect(result.code).toBe(1);
    expect(result.lines.find((line) => line.tenantId === tenantC)).toEqual({
      tenantId: tenantC,
      ok: false,
      entries: 0,
      firstBad: { seq: 1, reason: 'chain missing' },
    });
  });

  /** Attack: cut the anchor file's tail, so the anchors that would show a cut chain are gone too. */
  it('exits 1 and reports an anchor file cut back', async () => {
    const original = readFileSync(anchorFile(), 'utf8');
    writeFileSync(anchorFile(), `${original.split('\n').slice(0, 3).join('\n')}\n`);
    try {
      const result = await auditVerify(database.env, '--tenant', tenantA);
      expect(result.code).toBe(1);
      expect(result.lines[0]).toEqual({
        anchorFile: anchorFile(),
        ok: false,
        lines: 3,
        firstBad: { line: 4, reason: 'anchor file truncated' },
      });
    } finally {
      writeFileSync(anchorFile(), original);
    }
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
    const result = await auditVerify(database.env, '--tenant', tenantA);
    expect(result.code).toBe(1);
    expect(result.lines).toEqual([
      anchorLine(9),
      {
        tenantId: tenantA,
        ok: false,
        entries: 3,
        firstBad: { seq: 4, id: expect.any(String), reason: 'hash mismatch' },
      },
    ]);
  });
  /**
   * A failed anchor after the tenant committed (a damaged anchor file is never extended) must not lose the
   * tenant's one-time owner setup token: the operator gets it, a warning and a distinct exit code.
   */
  it('tenant create still prints the setup token, warns and exits 3 when the new chain cannot be anchored', async () => {
    const original = readFileSync(anchorFile(), 'utf8');
    writeFileSync(anchorFile(), `${original}{"broken":`);
    try {
      const failed = await run(process.execPath, [parleyBin, 'tenant', 'create', '--name', 'Tenant D'], {
        env: { ...process.env, ...database.env },
      }).then(
        () => undefined,
        (error: unknown) => error as { code: number; stdout: string; stderr: string },
      );
      expect(failed?.code).toBe(3);
      const created = JSON.parse(failed?.stdout ?? '') as { tenantId: string; ownerSetupToken: string };
      expect(created.ownerSetupToken).toMatch(/\S{20,}/);
      expect(failed?.stderr).toContain('not anchored outside the database yet');
      const { stdout } = await run(process.execPath, [parleyBin, 'tenant', 'list'], {
        env: { ...process.env, ...database.env },
      });
      expect((JSON.parse(stdout) as { tenantId: string }[]).map((t) => t.tenantId)).toContain(
        created.tenantId,
      );
    } finally {
      writeFileSync(anchorFile(), original);
    }
  });
});
