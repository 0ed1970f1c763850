import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../src/backup/backup-reader.ts';
import { parley } from '../support/run-cli.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { QUIET, tempDir, removeTempDirs } from './backup-fixtures.ts';

const parleyBin = path.resolve(import.meta.dirname, '../../bin/parley.js');

/**
 * A backup process killed (SIGKILL) while it writes: what it wrote is never listed as a backup, never
 * restored, never built on, and the plaintext snapshot it left beside the database is removed by the next
 * backup, which succeeds.
 */
describe('an interrupted backup [sqlite]', () => {
  let server: TestServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer({ env: QUIET });
    // Some 64 MB, so that a backup takes long enough to be killed in the middle of writing.
    await server.app.storage.withSystem((tx) =>
      tx
        .insertInto('parley_meta')
        .values({ key: 'filler', value: 'x'.repeat(64 * 1024 * 1024) })
        .execute(),
    );
    env = {
      ...server.database.env,
      PARLEY_BACKUP_DIR: tempDir('interrupted-backups'),
      PARLEY_BACKUP_KEY_FILE: path.join(tempDir('interrupted-key'), 'backup.key'),
    };
  });

  afterAll(async () => {
    await server.close();
    removeTempDirs();
  });

  it('is never listed as good, and the next backup cleans up after it', async () => {
    const backupDir = env.PARLEY_BACKUP_DIR ?? '';
    const child = spawn(process.execPath, [parleyBin, 'backup', 'create'], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Killed once it is writing the backup's files.
    const until = Date.now() + 30_000;
    while (!(
      existsSync(backupDir) && readdirSync(backupDir).some((name) => name.startsWith('.incomplete-'))
    )) {
      if (Date.now() > until) throw new Error('the backup never started writing');
      await sleep(2);
    }
    child.kill('SIGKILL');
    await exited;

    const listed = await listBackups(backupDir);
    expect(listed.map((entry) => entry.status)).toEqual(['incomplete']);
    const workDir = path.join(server.database.dataDir, '.backup-work');
    expect(readdirSync(workDir).filter((name) => name.startsWith('snapshot-'))).toHaveLength(1);

    const [interrupted] = listed;
    const restore = await parley(
      ['backup', 'restore', interrupted?.id ?? '', '--into', path.join(tempDir('never'), 'data')],
      env,
    );
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/did not finish and cannot be used/);

    const next = await parley(['backup', 'create', '--incremental'], env);
    expect(next.code, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({
      kind: 'full',
      fullBecause: 'there is no earlier backup',
    });
    expect(readdirSync(workDir)).toEqual([]);
    const after = await listBackups(backupDir);
    expect(after.map((entry) => entry.status)).toEqual(['incomplete', 'complete']);
  });
});
