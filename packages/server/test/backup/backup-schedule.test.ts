import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../src/backup/backup-reader.ts';
import { readBackupState } from '../../src/backup/backup-state.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { tempDir, removeTempDirs } from './backup-fixtures.ts';

/**
 * The server takes its backups itself, as scheduled tasks under a lease (docs/jobs.md): here the full
 * backup is due every second and the incremental never, and a complete, recorded backup appears without
 * anyone asking. With `PARLEY_BACKUPS=false` no backup task exists at all.
 */
describe('scheduled backups [sqlite]', () => {
  let server: TestServer;
  const backupDir = tempDir('scheduled-backups');
  const keyFile = path.join(tempDir('scheduled-key'), 'backup.key');

  beforeAll(async () => {
    server = await startTestServer({
      env: {
        PARLEY_ALERTS: 'false',
        PARLEY_JOB_POLL_INTERVAL_MS: '100',
        PARLEY_BACKUP_DIR: backupDir,
        PARLEY_BACKUP_KEY_FILE: keyFile,
        PARLEY_BACKUP_FULL_CRON: '* * * * * *',
        PARLEY_BACKUP_INCREMENTAL_CRON: '0 0 1 1 *',
      },
    });
  });

  afterAll(async () => {
    await server.close();
    removeTempDirs();
  });

  it('takes the full backup when it is due, records it, and warns that the new backup key must be kept apart', async () => {
    const until = Date.now() + 20_000;
    let complete = (await listBackups(backupDir)).filter((entry) => entry.status === 'complete');
    while (complete.length === 0 && Date.now() < until) {
      await sleep(100);
      complete = (await listBackups(backupDir)).filter((entry) => entry.status === 'complete');
    }
    const first = complete[0];
    expect(first?.status === 'complete' && first.manifest.kind).toBe('full');
    const tasks = await server.app.storage.withSystem((tx) =>
      tx
        .selectFrom('scheduled_tasks')
        .select(['name', 'cron'])
        .where('name', 'like', 'backup.%')
        .orderBy('name')
        .execute(),
    );
    expect(tasks).toEqual([
      { name: 'backup.full', cron: '* * * * * *' },
      { name: 'backup.incremental', cron: '0 0 1 1 *' },
    ]);
    // The outcome is recorded just after the backup is renamed into place.
    let state = await readBackupState(server.app.storage);
    while (state === undefined && Date.now() < until) {
      await sleep(50);
      state = await readBackupState(server.app.storage);
    }
    expect(state).toMatchObject({ lastOutcome: 'succeeded', lastKind: 'full' });
    const warning = server.logs
      .entries()
      .find((line) => typeof line.msg === 'string' && line.msg.startsWith('generated the backup key'));
    expect(warning).toMatchObject({ level: 40, file: keyFile });
  });

  it('registers no backup task when backups are off', async () => {
    const off = await startTestServer({ env: { PARLEY_BACKUPS: 'false', PARLEY_ALERTS: 'false' } });
    try {
      const tasks = await off.app.storage.withSystem((tx) =>
        tx.selectFrom('scheduled_tasks').select('name').where('name', 'like', 'backup.%').execute(),
      );
      expect(tasks).toEqual([]);
    } finally {
      await off.close();
    }
  });
});
