import { cpSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackupKeys } from '../../src/backup/backup-key.ts';
import {
  type CanaryUser,
  erasureReaching,
  foundIn,
  newCanaryUser,
} from '../compliance/gdpr/erasure-fixtures.ts';
import { bearer, json, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { parley } from '../support/run-cli.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { flipByte, metaOf, QUIET, sendContinuously, tempDir, removeTempDirs } from './backup-fixtures.ts';

interface Created {
  id: string;
  kind: string;
  parentId: string | null;
}

/**
 * `parley backup create|list|verify|restore` as operators run them: the compiled CLI in its own process,
 * beside a running server that keeps taking sends. A backup taken before an erasure, restored and started,
 * does not bring the erased user back; verify refuses a tampered backup and a wrong key, restore refuses an
 * occupied directory.
 */
describe('parley backup [sqlite]', () => {
  let server: TestServer;
  let owner: SignedIn;
  let victim: CanaryUser;
  let env: Record<string, string>;
  let full: Created;
  let incremental: Created;

  beforeAll(async () => {
    server = await startTestServer({ env: QUIET });
    owner = await newTenantOwner(server, 'Backup CLI Clinic');
    victim = await newCanaryUser(server, owner);
    env = {
      ...server.database.env,
      PARLEY_BACKUP_DIR: tempDir('cli-backups'),
      PARLEY_BACKUP_KEY_FILE: path.join(tempDir('cli-backup-key'), 'backup.key'),
    };
    // A full backup from another process while the server keeps taking sends.
    const load = sendContinuously(server, owner.accessToken, victim.dialogId, 2);
    const created = await parley(['backup', 'create', '--full'], env);
    await load.stop();
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toMatch(/generated the backup key .*keep a copy away from this server/);
    full = JSON.parse(created.stdout) as Created;
    // Erased after the full backup: the backup still holds the account.
    const erased = await server.request(
      `/v1/users/${victim.userId}/erasure`,
      json({ graceDays: 0 }, owner.accessToken),
    );
    expect(erased.status, erased.text).toBe(202);
    await erasureReaching(server, owner.accessToken, victim.userId);
    const next = await parley(['backup', 'create', '--incremental'], env);
    expect(next.code, next.stderr).toBe(0);
    incremental = JSON.parse(next.stdout) as Created;
  });

  afterAll(async () => {
    await server.close();
    removeTempDirs();
  });

  it('creates full and incremental backups and lists them', async () => {
    expect(full.kind).toBe('full');
    expect(incremental).toMatchObject({ kind: 'incremental', parentId: full.id });
    const listed = await parley(['backup', 'list'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ id: full.id, status: 'complete', kind: 'full', parentId: null }),
      expect.objectContaining({
        id: incremental.id,
        status: 'complete',
        kind: 'incremental',
        parentId: full.id,
      }),
    ]);
  });

  it('on PostgreSQL without the cluster directory, says which setting pgBackRest needs', async () => {
    const refused = await parley(['backup', 'create'], {
      ...env,
      DATABASE_URL: 'postgres://parley@127.0.0.1:1/none',
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/set PARLEY_PGBACKREST_PG_PATH to the PostgreSQL data directory/);
  });

  it('verifies every checksum and signature, restores on trial and finds the audit chains intact', async () => {
    const verified = await parley(['backup', 'verify', incremental.id], env);
    expect(verified.code, verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout) as {
      ok: boolean;
      chain: string[];
      integrity: string;
      auditChains: { tenantId: string; ok: boolean; entries?: number }[];
    };
    expect(report).toMatchObject({ ok: true, chain: [full.id, incremental.id], integrity: 'ok' });
    const chain = report.auditChains.find((check) => check.tenantId === owner.tenantId);
    expect(chain?.ok).toBe(true);
    expect(chain?.entries).toBeGreaterThan(0);
  });

  it('verify refuses a backup with a flipped byte, and a wrong backup key, saying which', async () => {
    const tampered = tempDir('cli-tampered');
    cpSync(env.PARLEY_BACKUP_DIR ?? '', tampered, { recursive: true });
    flipByte(path.join(tampered, full.id, 'database.enc'));
    const corrupt = await parley(['backup', 'verify', incremental.id], {
      ...env,
      PARLEY_BACKUP_DIR: tampered,
    });
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toContain(`backup ${full.id}: database.enc does not match its checksum`);

    const otherKey = path.join(tempDir('cli-other-key'), 'backup.key');
    openBackupKeys(otherKey, { generate: true });
    const wrong = await parley(['backup', 'verify', full.id], { ...env, PARLEY_BACKUP_KEY_FILE: otherKey });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/wrong backup key: backup .* was made under backup key [0-9a-f]{16}/);
  });

  it('restores a backup taken before an erasure: a new epoch, and the erased user stays erased', async () => {
    const target = path.join(tempDir('cli-restore'), 'data');
    const restored = await parley(['backup', 'restore', full.id, '--into', target], env);
    expect(restored.code, restored.stderr).toBe(0);
    const result = JSON.parse(restored.stdout) as {
      chain: string[];
      epoch: string;
      backupEpoch: string;
      copied: string[];
    };
    expect(result.chain).toEqual([full.id]);
    expect(result.copied.sort()).toEqual(['erasures.log', 'master.key']);
    expect(metaOf(path.join(target, 'parley.db')).epoch).toBe(result.epoch);
    expect(result.epoch).not.toBe(result.backupEpoch);

    const again = await startTestServer({ env: { ...QUIET, PARLEY_DATA_DIR: target } });
    try {
      const canaries = Object.values(victim.canaries);
      const history = await again.request(
        `/v1/dialogs/${victim.dialogId}/messages`,
        bearer(owner.accessToken),
      );
      expect(history.status, history.text).toBe(200);
      expect(foundIn(history.text, canaries)).toEqual([]);
      const users = await again.request('/v1/users', bearer(owner.accessToken));
      expect(foundIn(users.text, canaries)).toEqual([]);
      expect((await again.request('/v1/me', bearer(victim.token))).status).toBe(401);
      expect(
        again.logs.entries().some((line) => line.msg === 'erased again accounts the erasure register names'),
      ).toBe(true);
    } finally {
      await again.close();
    }

    // The restored directory is not empty any more: a second restore into it is refused, and changes nothing.
    const before = readdirSync(target).sort();
    const refused = await parley(['backup', 'restore', full.id, '--into', target], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is not empty/);
    expect(readdirSync(target).sort()).toEqual(before);
  });
});
