import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveWriter } from '../../src/backup/archive-writer.ts';
import { openBackupKeys } from '../../src/backup/backup-key.ts';
import { listBackups } from '../../src/backup/backup-reader.ts';
import { restoreBackup } from '../../src/backup/backup-restore.ts';
import { readBackupState } from '../../src/backup/backup-state.ts';
import { backupConditions } from '../../src/backup/backup-tasks.ts';
import type { BackupResult } from '../../src/backup/backup-service.ts';
import type { Clock } from '../../src/clock.ts';
import { newChatTenant, type ChatTenant } from '../support/sdk-clients.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import {
  backupPlace,
  type BackupPlace,
  flipByte,
  QUIET,
  send,
  tempDir,
  removeTempDirs,
} from './backup-fixtures.ts';

const DAY_MS = 24 * 3600 * 1000;

/**
 * What goes wrong around backups, tried for real: a byte flipped in any file of a backup (bit rot, or
 * someone editing a backup to plant data) is refused before anything is written; a backup made under one
 * key does not restore under another, and says so; a backup cut short is never listed as one; a full or
 * unwritable backup target fails the backup cleanly, records it for the alert, and leaves the server
 * serving; retention never deletes a backup a kept incremental needs.
 */
describe('backup faults [sqlite]', () => {
  let server: TestServer;
  let tenant: ChatTenant;
  let dialogId: string;
  let place: BackupPlace;
  let full: BackupResult;
  let incremental: BackupResult;

  beforeAll(async () => {
    server = await startTestServer({ env: QUIET });
    tenant = await newChatTenant(server, 'Fault Clinic');
    dialogId = await tenant.newDialog('Triage');
    await send(server, tenant.owner.accessToken, dialogId, 'before the full backup');
    place = backupPlace(server);
    full = await place.service.create('full');
    await send(server, tenant.owner.accessToken, dialogId, 'before the incremental backup');
    incremental = await place.service.create('incremental');
  });

  afterAll(async () => {
    await server.close();
    removeTempDirs();
  });

  const restoreInto = (backupDir: string, id: string, keyFile = place.keyFile) => {
    const target = path.join(tempDir('restore'), 'data');
    const attempt = restoreBackup({
      backupDir,
      keys: openBackupKeys(keyFile, { generate: false }),
      id,
      target,
    });
    return { target, attempt };
  };

  it('refuses a backup with one flipped byte in any of its files, before anything is restored', async () => {
    expect(incremental.kind).toBe('incremental');
    const files = [full.id, incremental.id].flatMap((id) =>
      readdirSync(path.join(place.backupDir, id)).map((name) => ({ id, name })),
    );
    expect(files.map((file) => file.name).sort()).toEqual(
      ['database.enc', 'manifest.json', 'pagemap.enc', 'manifest.json', 'pagemap.enc', 'pages.enc'].sort(),
    );
    for (const { id, name } of files) {
      const copy = tempDir('tampered');
      cpSync(place.backupDir, copy, { recursive: true });
      flipByte(path.join(copy, id, name));
      const { target, attempt } = restoreInto(copy, incremental.id);
      await expect(attempt, `${id}/${name}`).rejects.toMatchObject({ code: 'backup_corrupt' });
      expect(existsSync(target), `${id}/${name}`).toBe(false);
    }
    // The untouched backup restores.
    const { attempt } = restoreInto(place.backupDir, incremental.id);
    await expect(attempt).resolves.toMatchObject({ chain: [full.id, incremental.id] });
  });

  it('refuses a restore under another backup key with a message that names the wrong key', async () => {
    const otherKey = path.join(tempDir('other-key'), 'backup.key');
    openBackupKeys(otherKey, { generate: true });
    const { target, attempt } = restoreInto(place.backupDir, full.id, otherKey);
    await expect(attempt).rejects.toMatchObject({ code: 'backup_key_wrong' });
    await expect(attempt).rejects.toThrow(/wrong backup key: .* PARLEY_BACKUP_KEY_FILE/);
    expect(existsSync(target)).toBe(false);
    const missing = () => openBackupKeys(path.join(tempDir('no-key'), 'backup.key'), { generate: false });
    expect(missing).toThrow(/does not exist \(PARLEY_BACKUP_KEY_FILE\)/);
  });

  it('never lists a backup that was cut short, never restores it, and never builds on it', async () => {
    const cut = new ArchiveWriter(place.backupDir, '20991231T000000000Z-full-0badc0de');
    await cut.begin();
    await cut.writeEncrypted('database.enc', [Buffer.alloc(4096, 7)], place.keys().active);
    // The process dies here: no manifest, no rename.
    const listed = await listBackups(place.backupDir);
    expect(listed.filter((entry) => entry.status === 'complete').map((entry) => entry.id)).not.toContain(
      '20991231T000000000Z-full-0badc0de',
    );
    expect(listed.find((entry) => entry.id === '20991231T000000000Z-full-0badc0de')?.status).toBe(
      'incomplete',
    );
    const { attempt } = restoreInto(place.backupDir, '20991231T000000000Z-full-0badc0de');
    await expect(attempt).rejects.toMatchObject({ code: 'backup_incomplete' });
    // The plaintext snapshot a killed backup process left beside the database goes at the next backup.
    const workDir = path.join(server.database.dataDir, '.backup-work');
    const deadPid = spawnSync('true').pid;
    const leftOver = path.join(workDir, `snapshot-${deadPid}-0123456789ab`);
    writeFileSync(leftOver, 'a plaintext copy of the database');
    const next = await place.service.create('incremental');
    expect(next.parentId).toBe(incremental.id);
    expect(existsSync(leftOver)).toBe(false);
    expect(readdirSync(workDir)).toEqual([]);
    await cut.abandon();
  });

  it('fails cleanly when the backup target is full: nothing listed, the failure recorded and alerted, the server serving', async (context) => {
    const mountPoint = tempDir('full-disk');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint], { stdio: 'ignore' });
    } catch {
      context.skip('mounting a small tmpfs needs root');
    }
    try {
      const small = backupPlace(server, undefined, mountPoint);
      await expect(small.service.create('full')).rejects.toMatchObject({ code: 'backup_target_full' });
      expect(readdirSync(mountPoint)).toEqual([]);
      expect(await readBackupState(server.app.storage)).toMatchObject({
        lastOutcome: 'failed',
        lastErrorCode: 'backup_target_full',
      });
      const [failed] = backupConditions(server.app.storage);
      expect(await failed?.evaluate(Date.now())).toEqual([
        { summary: expect.stringMatching(/full backup at .* failed \(backup_target_full\)/) as string },
      ]);
      // The server never noticed.
      await send(server, tenant.owner.accessToken, dialogId, 'while the backup disk is full');
      // The next backup that succeeds resolves the alert.
      await place.service.create('incremental');
      expect(await failed?.evaluate(Date.now())).toEqual([]);
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  });

  it('fails cleanly when the backup target cannot be written', async () => {
    const blocker = path.join(tempDir('blocked'), 'a-file');
    writeFileSync(blocker, 'not a directory');
    const blocked = backupPlace(server, undefined, path.join(blocker, 'backups'));
    await expect(blocked.service.create('full')).rejects.toMatchObject({ code: 'backup_target_unwritable' });
    expect(await readBackupState(server.app.storage)).toMatchObject({
      lastOutcome: 'failed',
      lastErrorCode: 'backup_target_unwritable',
    });
    await send(server, tenant.owner.accessToken, dialogId, 'while the backup target is gone');
  });

  it('retention deletes backups past 90 days but keeps a full backup (and its incrementals) that a kept incremental needs', async () => {
    const now = Date.now();
    let at = now - 120 * DAY_MS;
    const clock: Clock = { now: () => at };
    const aged = backupPlace(server, clock);
    const oldFull = await aged.service.create('full');
    at = now - 100 * DAY_MS;
    const neededFull = await aged.service.create('full');
    at = now - 95 * DAY_MS;
    const neededIncremental = await aged.service.create('incremental');
    at = now - DAY_MS;
    const recent = await aged.service.create('incremental');

    expect(recent.parentId).toBe(neededIncremental.id);
    expect(recent.deleted).toEqual([oldFull.id]);
    const kept = (await listBackups(aged.backupDir)).map((entry) => entry.id);
    expect(kept).toEqual([neededFull.id, neededIncremental.id, recent.id]);
    const { attempt } = restoreInto(aged.backupDir, recent.id, aged.keyFile);
    await expect(attempt).resolves.toMatchObject({ chain: kept });
  });
});
