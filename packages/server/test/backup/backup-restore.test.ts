import { copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupError } from '../../src/backup/backup-error.ts';
import { restoreBackup } from '../../src/backup/backup-restore.ts';
import { bearer } from '../support/identity-fixtures.ts';
import { openSocket } from '../support/realtime-socket.ts';
import { newChatTenant, type ChatTenant } from '../support/sdk-clients.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import {
  backupPlace,
  dialogMessages,
  metaOf,
  QUIET,
  send,
  sendContinuously,
  tableDigests,
  tempDir,
  removeTempDirs,
} from './backup-fixtures.ts';

/**
 * Backups of the embedded database, taken from a real running server: a full backup while sends go on is
 * one consistent moment; a restore gives back exactly the database of the backup point (every table, row
 * for row) with a new stream epoch; a full backup and two incrementals give back the latest state, and
 * the incrementals hold only the pages that changed.
 */
describe('backup and restore [sqlite]', () => {
  let server: TestServer;
  let tenant: ChatTenant;
  let dialogId: string;
  const databaseFile = () => path.join(server.database.dataDir, 'parley.db');
  const restoredFile = (target: string) => path.join(target, 'parley.db');

  beforeAll(async () => {
    server = await startTestServer({ env: QUIET });
    // Scheduled tasks (retention sweeps, export expiry, …) write on their own clock; stopped, the database
    // changes only by what the test sends, so "the source at the backup point" is known exactly.
    await server.app.jobs.stop(5_000);
    tenant = await newChatTenant(server, 'Backup Clinic');
    dialogId = await tenant.newDialog('Night shift');
    // A history of some size, so that "a few pages changed" is a small part of the database.
    const filler = 'x'.repeat(1500);
    for (let batch = 0; batch < 100; batch += 1) {
      await Promise.all(
        [0, 1, 2, 3].map((lane) =>
          send(server, tenant.owner.accessToken, dialogId, `history-${batch}-${lane} ${filler}`),
        ),
      );
    }
  });

  afterAll(async () => {
    await server.close();
    removeTempDirs();
  });

  it('takes a full backup while messages are being sent: the sends go on, and the restore holds one consistent moment', async () => {
    const place = backupPlace(server);
    const load = sendContinuously(server, tenant.owner.accessToken, dialogId);
    // Let the senders get going, so the backup starts in the middle of a stream of commits.
    while (load.acks.length < 10) await new Promise((resolve) => setImmediate(resolve));
    const started = performance.now();
    const backup = await place.service.create('full');
    const finished = performance.now();
    const acks = await load.stop();

    expect(backup.kind).toBe('full');
    expect(acks.filter((ack) => ack.sentAt > started && ack.ackedAt < finished).length).toBeGreaterThan(0);
    const target = path.join(tempDir('restore'), 'data');
    const restored = await restoreBackup({
      backupDir: place.backupDir,
      keys: place.keys(),
      id: backup.id,
      target,
    });

    const inBackup = dialogMessages(restoredFile(target), dialogId);
    const ids = new Set(inBackup.map((message) => message.id));
    // Everything acknowledged before the backup began is in it; nothing sent after it ended is.
    for (const ack of acks.filter((ack) => ack.ackedAt < started)) expect(ids.has(ack.id)).toBe(true);
    for (const ack of acks.filter((ack) => ack.sentAt > finished)) expect(ids.has(ack.id)).toBe(false);
    // One moment: the backup holds exactly the source's messages up to its last sequence number, no gap.
    const lastSeq = inBackup.at(-1)?.seq ?? 0;
    const source = dialogMessages(databaseFile(), dialogId).filter((message) => message.seq <= lastSeq);
    expect(inBackup).toEqual(source);
    // A new epoch: realtime clients holding positions from after the backup point resync.
    expect(restored.backupEpoch).toBe(metaOf(databaseFile()).epoch);
    expect(metaOf(restoredFile(target)).epoch).toBe(restored.epoch);
    expect(restored.epoch).not.toBe(restored.backupEpoch);
  });

  it('restores exactly the database of the backup point: row counts and content hash of every table', async () => {
    const place = backupPlace(server);
    const sourceTables = tableDigests(databaseFile(), ['parley_meta']);
    const metaBefore = metaOf(databaseFile());
    const backup = await place.service.create('full');
    // Nothing wrote while the backup ran (its own state row in parley_meta aside): the source is the backup point.
    expect(tableDigests(databaseFile(), ['parley_meta'])).toEqual(sourceTables);
    const target = path.join(tempDir('restore'), 'data');
    await restoreBackup({ backupDir: place.backupDir, keys: place.keys(), id: backup.id, target });
    expect(readdirSync(target)).toEqual(['parley.db']);

    const restoredTables = tableDigests(restoredFile(target), ['parley_meta']);
    expect(Object.keys(restoredTables).length).toBeGreaterThan(20);
    expect(restoredTables).toEqual(sourceTables);
    const { epoch, ...otherMeta } = metaOf(restoredFile(target));
    const { epoch: sourceEpoch, ...otherSourceMeta } = metaBefore;
    expect(otherMeta).toEqual(otherSourceMeta);
    expect(epoch).not.toBe(sourceEpoch);
  });

  it('restores a full backup and two incrementals to the latest state; an incremental holds only the changed pages', async () => {
    const place = backupPlace(server);
    const full = await place.service.create('full');
    const first = ['inc-a-1', 'inc-a-2', 'inc-a-3'];
    for (const body of first) await send(server, tenant.owner.accessToken, dialogId, body);
    const one = await place.service.create('incremental');
    const second = ['inc-b-1', 'inc-b-2', 'inc-b-3'];
    const secondIds: string[] = [];
    for (const body of second) secondIds.push(await send(server, tenant.owner.accessToken, dialogId, body));
    const latest = tableDigests(databaseFile(), ['parley_meta']);
    const two = await place.service.create('incremental');

    expect([one.kind, one.parentId, one.chainId]).toEqual(['incremental', full.id, full.id]);
    expect([two.kind, two.parentId, two.chainId]).toEqual(['incremental', one.id, full.id]);
    for (const incremental of [one, two]) {
      expect(incremental.storedPages).toBeGreaterThan(0);
      expect(incremental.storedPages).toBeLessThan(full.pageCount / 10);
      expect(incremental.bytes).toBeLessThan(full.bytes / 5);
    }

    const target = path.join(tempDir('restore'), 'data');
    const restored = await restoreBackup({
      backupDir: place.backupDir,
      keys: place.keys(),
      id: two.id,
      target,
    });
    expect(restored.chain).toEqual([full.id, one.id, two.id]);
    expect(tableDigests(restoredFile(target), ['parley_meta'])).toEqual(latest);

    // The middle of the chain restores to its own moment: the first three sent, not the last three.
    const middle = path.join(tempDir('restore'), 'data');
    await restoreBackup({ backupDir: place.backupDir, keys: place.keys(), id: one.id, target: middle });
    const middleIds = new Set(dialogMessages(restoredFile(middle), dialogId).map((message) => message.id));
    expect(secondIds.filter((id) => middleIds.has(id))).toEqual([]);
    expect(dialogMessages(restoredFile(middle), dialogId).length).toBe(
      dialogMessages(restoredFile(target), dialogId).length - secondIds.length,
    );
  });

  it('a backup taken while the master key rotates restores and serves; a realtime client of the old epoch is told to resync', async () => {
    const place = backupPlace(server);
    const body = `during-rotation-${Date.now()}`;
    await send(server, tenant.owner.accessToken, dialogId, body);
    const [backup] = await Promise.all([
      place.service.create('full'),
      server.app.security.keyring.rotateMaster(),
    ]);
    const target = path.join(tempDir('restore'), 'data');
    await restoreBackup({ backupDir: place.backupDir, keys: place.keys(), id: backup.id, target });
    // As `parley backup restore` does: the key file (now holding both versions) and the register come along.
    for (const name of ['master.key', 'erasures.log']) {
      const from = path.join(server.database.dataDir, name);
      if (existsSync(from)) copyFileSync(from, path.join(target, name));
    }
    const again = await startTestServer({ env: { ...QUIET, PARLEY_DATA_DIR: target } });
    try {
      const history = await again.request(
        `/v1/dialogs/${dialogId}/messages?limit=5`,
        bearer(tenant.owner.accessToken),
      );
      expect(history.status, history.text).toBe(200);
      expect(history.text).toContain(body);
      // A client that saw the source's stream resumes with its old epoch and is told to resync.
      const socket = await openSocket(again, tenant.owner.accessToken);
      expect(socket.frames[0]).toMatchObject({ type: 'ready', epoch: metaOf(restoredFile(target)).epoch });
      socket.send({
        type: 'resume',
        positions: { [dialogId]: { seq: 1, epoch: metaOf(databaseFile()).epoch } },
      });
      expect(await socket.next((frame) => frame.type === 'resync')).toMatchObject({
        dialogId,
        reason: 'epoch_changed',
      });
      socket.ws.close();
    } finally {
      await again.close();
    }
  });

  it('an incremental asked for without an earlier backup is taken as a full one, and says why', async () => {
    const place = backupPlace(server);
    const backup = await place.service.create('incremental');
    expect(backup).toMatchObject({ kind: 'full', parentId: null, fullBecause: 'there is no earlier backup' });
  });

  it('refuses to restore into a data directory that is not empty, and leaves it untouched', async () => {
    const place = backupPlace(server);
    const backup = await place.service.create('full');
    const target = tempDir('occupied');
    writeFileSync(path.join(target, 'parley.db'), 'the database of another deployment');
    const refused = restoreBackup({ backupDir: place.backupDir, keys: place.keys(), id: backup.id, target });
    await expect(refused).rejects.toBeInstanceOf(BackupError);
    await expect(refused).rejects.toMatchObject({ code: 'restore_target_not_empty' });
    expect(readdirSync(target)).toEqual(['parley.db']);
    expect(existsSync(path.join(target, '.restoring-parley.db'))).toBe(false);
  });
});
