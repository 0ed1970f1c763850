import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackupError } from '../../src/backup/backup-error.ts';
import { readBackupState } from '../../src/backup/backup-state.ts';
import { pgbackrestServiceFor, type PgbackrestService } from '../../src/backup/index.ts';
import { systemClock } from '../../src/clock.ts';
import { erasureReaching, foundIn, newCanaryUser } from '../compliance/gdpr/erasure-fixtures.ts';
import { bearer, json, newTenantOwner } from '../support/identity-fixtures.ts';
import { parley } from '../support/run-cli.ts';
import { newChatTenant, type ChatTenant } from '../support/sdk-clients.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import {
  initCluster,
  startCluster,
  type ThrowawayCluster,
  throwawayRoot,
  type ThrowawayRoot,
} from '../support/postgres-cluster.ts';
import { describePgbackrest } from '../support/describe-pgbackrest.ts';
import { QUIET, removeTempDirs, send, tempDir } from './backup-fixtures.ts';

type Digests = Record<string, { rows: number; md5: string }>;

/**
 * Row count and a content hash of every Parley table of a cluster (rows hashed in a sorted order, so the
 * hash does not depend on the order PostgreSQL returns them in). `parley_meta` is left out: it holds the
 * epoch and the backup state, which change by design; the epoch is checked on its own.
 */
async function digests(cluster: ThrowawayCluster): Promise<Digests> {
  const tables = await cluster.query<{ name: string }>(
    "select tablename as name from pg_tables where schemaname = 'public' and tablename <> 'parley_meta' order by 1",
  );
  const result: Digests = {};
  for (const { name } of tables) {
    const [row] = await cluster.query<{ rows: string; md5: string }>(
      `select count(*) as rows, md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) as md5 from public."${name}" t`,
    );
    result[name] = { rows: Number(row?.rows), md5: row?.md5 ?? '' };
  }
  return result;
}

async function metaValue(cluster: ThrowawayCluster, key: string): Promise<string | undefined> {
  const rows = await cluster.query<{ value: string }>('select value from public.parley_meta where key = $1', [
    key,
  ]);
  return rows[0]?.value;
}

/**
 * PostgreSQL backups through pgBackRest, on a throw-away cluster of the test's own (initdb on a free port,
 * archive mode on; the shared server is not touched): Parley writes pgBackRest's configuration with the
 * repository cipher on, takes a full and an incremental backup while its server runs on the cluster, lists
 * them and records their state for the alerts; a restore into an empty directory gives back exactly the
 * database of the backup point, a point-in-time restore the state at that time, and a Parley server started
 * on a restored cluster takes a new stream epoch. A wrong cipher pass and a non-empty target are refused.
 */
describePgbackrest('PostgreSQL backups with pgBackRest', () => {
  let root: ThrowawayRoot;
  let source: ThrowawayCluster;
  let server: TestServer;
  let service: PgbackrestService;
  let env: Record<string, string>;
  let tenant: ChatTenant;
  let dialogId: string;
  const started: ThrowawayCluster[] = [];

  beforeAll(async () => {
    root = throwawayRoot();
    const dataDir = await initCluster(root, {
      wal_level: 'replica',
      archive_mode: 'on',
      // Set by the test below from what `configure` prints, as a DBA would.
      archive_command: '/bin/false',
    });
    source = await startCluster(root, dataDir);
    started.push(source);
    env = {
      ...QUIET,
      DATABASE_URL: source.url,
      PARLEY_DATABASE_SCHEMA: 'public',
      PARLEY_BACKUP_DIR: path.join(root.dir, 'repository'),
      PARLEY_BACKUP_KEY_FILE: path.join(tempDir('pg-backup-key'), 'backup.key'),
      PARLEY_PGBACKREST_CONFIG_FILE: path.join(root.dir, 'pgbackrest', 'parley.conf'),
      PARLEY_PGBACKREST_PG_PATH: dataDir,
      PARLEY_PGBACKREST_PG_SOCKET_PATH: source.socketDir,
    };
    server = await startTestServer({ env });
    // Scheduled tasks write on their own clock; stopped, the database changes only by what the test sends.
    await server.app.jobs.stop(5_000);
    service = pgbackrestServiceFor({
      config: server.app.config,
      storage: server.app.storage,
      clock: systemClock,
    });
    tenant = await newChatTenant(server, 'Backup Clinic');
    dialogId = await tenant.newDialog('Night shift');
  }, 120_000);

  afterAll(async () => {
    await server.close();
    for (const cluster of started) await cluster.stop();
    root.remove();
    removeTempDirs();
  }, 60_000);

  it('writes a pgBackRest configuration (mode 0600, repository cipher on, retention by time) and the archive settings that work', async () => {
    const configured = service.configure();
    const file = env.PARLEY_PGBACKREST_CONFIG_FILE ?? '';
    expect(configured.configFile).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('repo1-cipher-type=aes-256-cbc');
    expect(text).toMatch(/^repo1-cipher-pass=\S{40,}$/m);
    expect(text).toContain('repo1-retention-full-type=time');
    expect(text).toContain('repo1-retention-full=90');
    expect(text).toContain(`pg1-path=${env.PARLEY_PGBACKREST_PG_PATH ?? ''}`);
    expect(configured.postgresql).toMatchObject({ archive_mode: 'on', wal_level: 'replica' });
    // As the DBA does with the printed settings: archive_command takes a reload.
    await source.query(`alter system set archive_command = '${configured.postgresql.archive_command}'`);
    await source.query('select pg_reload_conf()');
    const pass = /^repo1-cipher-pass=(\S+)$/m.exec(text)?.[1] ?? '';
    expect(JSON.stringify(configured)).not.toContain(pass);
    expect(server.logs.text()).not.toContain(pass);
  });

  let full: { id: string };
  let incremental: { id: string };
  let atFull: Digests;
  let atTime: Digests;
  let atIncremental: Digests;
  let pointInTime: string;
  let sourceEpoch: string | undefined;

  it('takes a full and an incremental backup while the server runs, lists them, and records the state for the alerts', async () => {
    for (const body of ['first-1', 'first-2', 'first-3'])
      await send(server, tenant.owner.accessToken, dialogId, body);
    atFull = await digests(source);
    const fullResult = await service.create('full');
    expect(fullResult).toMatchObject({ kind: 'full', parentId: null });
    full = fullResult;

    for (const body of ['second-1', 'second-2']) await send(server, tenant.owner.accessToken, dialogId, body);
    atTime = await digests(source);
    const [now] = await source.query<{ at: string }>(
      "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' as at",
    );
    pointInTime = now?.at ?? '';
    for (const body of ['third-1', 'third-2']) await send(server, tenant.owner.accessToken, dialogId, body);
    atIncremental = await digests(source);
    const incrResult = await service.create('incremental');
    expect(incrResult).toMatchObject({ kind: 'incremental', parentId: full.id });
    expect(incrResult.bytes).toBeLessThan(fullResult.bytes);
    incremental = incrResult;
    sourceEpoch = await metaValue(source, 'epoch');

    expect(atFull.messages?.rows).toBeGreaterThan(0);
    expect(atTime.messages?.rows).toBe((atFull.messages?.rows ?? 0) + 2);
    expect(atIncremental.messages?.rows).toBe((atTime.messages?.rows ?? 0) + 2);

    const listed = await service.list();
    expect(listed.map((set) => [set.id, set.kind, set.status, set.parentId])).toEqual([
      [full.id, 'full', 'complete', null],
      [incremental.id, 'incremental', 'complete', full.id],
    ]);
    expect(await readBackupState(server.app.storage)).toMatchObject({
      lastKind: 'incremental',
      lastOutcome: 'succeeded',
      lastErrorCode: null,
      lastSuccessId: incremental.id,
      lastSuccessBytes: incrResult.bytes,
    });
  }, 180_000);

  async function restoreAndStart(options: { id: string; to?: string }): Promise<ThrowawayCluster> {
    const target = path.join(root.dir, `restored-${String(started.length)}`);
    await service.restore({ ...options, target });
    // Not archiving into the source's repository: this cluster is looked at, then thrown away.
    const cluster = await startCluster(root, target, { archive_mode: 'off' });
    started.push(cluster);
    return cluster;
  }

  it('restores the incremental backup into an empty directory: exactly the database of its backup point', async () => {
    const restored = await restoreAndStart({ id: incremental.id });
    expect(await digests(restored)).toEqual(atIncremental);
    await restored.stop();
  }, 120_000);

  it('restores the full backup to its own backup point, and a point in time between the backups to the state then', async () => {
    const atBackup = await restoreAndStart({ id: full.id });
    expect(await digests(atBackup)).toEqual(atFull);
    await atBackup.stop();
    const atPoint = await restoreAndStart({ id: full.id, to: pointInTime });
    expect(await digests(atPoint)).toEqual(atTime);
    await atPoint.stop();
  }, 180_000);

  it('a Parley server started on a restored cluster takes a new stream epoch before it serves', async () => {
    const restored = await restoreAndStart({ id: incremental.id });
    expect(await metaValue(restored, 'epoch')).toBe(sourceEpoch);
    // The same settings as the source's server: its master key and erasure register, kept outside backups.
    const again = await startTestServer({
      env: {
        ...env,
        DATABASE_URL: restored.url,
        PARLEY_MASTER_KEY_FILE: path.join(server.database.dataDir, 'master.key'),
        PARLEY_ERASURE_LOG_FILE: path.join(server.database.dataDir, 'erasures.log'),
      },
    });
    try {
      const epoch = await metaValue(restored, 'epoch');
      expect(epoch).toBeDefined();
      expect(epoch).not.toBe(sourceEpoch);
      const health = await again.request('/readyz');
      expect(health.status, health.text).toBe(200);
    } finally {
      await again.close();
      await restored.stop();
    }
  }, 120_000);

  it('verifies the repository, restores on trial, and finds the audit chains intact there', async () => {
    const report = await service.verify(incremental.id);
    expect(report).toMatchObject({ id: incremental.id, ok: true, checksums: 'ok', trialRestore: 'ok' });
    const chain = report.auditChains.find((check) => check.tenantId === tenant.owner.tenantId);
    expect(chain?.ok).toBe(true);
    expect(chain?.entries).toBeGreaterThan(0);
  }, 120_000);

  it('refuses a wrong repository cipher pass (a configuration made from another backup key) with a clear message', async () => {
    const otherConfig = {
      ...server.app.config,
      backupKeyFile: path.join(tempDir('pg-other-key'), 'backup.key'),
      pgbackrestConfigFile: path.join(root.dir, 'other', 'parley.conf'),
    };
    const other = pgbackrestServiceFor({
      config: otherConfig,
      storage: server.app.storage,
      clock: systemClock,
    });
    other.configure();
    const listing = await other.list().catch((error: unknown) => error);
    expect(listing).toBeInstanceOf(BackupError);
    expect(listing).toMatchObject({ code: 'backup_key_wrong' });
    const target = path.join(root.dir, 'never-restored');
    const restoring = other.restore({ id: incremental.id, target });
    await expect(restoring).rejects.toMatchObject({
      code: 'backup_key_wrong',
      message: expect.stringMatching(/wrong repository cipher pass/) as unknown,
    });
  }, 60_000);

  it('refuses to restore into a directory that is not empty, and leaves it untouched', async () => {
    const target = path.join(tempDir('pg-occupied'), 'data');
    mkdirSync(target);
    writeFileSync(path.join(target, 'PG_VERSION'), 'something else\n');
    await expect(service.restore({ id: incremental.id, target })).rejects.toMatchObject({
      code: 'restore_target_not_empty',
    });
    expect(readFileSync(path.join(target, 'PG_VERSION'), 'utf8')).toBe('something else\n');
    expect(existsSync(path.join(target, 'postgresql.conf'))).toBe(false);
  });
  it('a backup that fails is recorded for the backup_failed alert, the last success kept', async () => {
    // A configuration whose cipher pass does not open the repository: pgBackRest refuses before writing.
    const otherConfig = {
      ...server.app.config,
      backupKeyFile: path.join(tempDir('pg-third-key'), 'backup.key'),
      pgbackrestConfigFile: path.join(root.dir, 'third', 'parley.conf'),
    };
    const other = pgbackrestServiceFor({
      config: otherConfig,
      storage: server.app.storage,
      clock: systemClock,
    });
    other.configure();
    await expect(other.create('full')).rejects.toMatchObject({ code: 'backup_key_wrong' });
    expect(await readBackupState(server.app.storage)).toMatchObject({
      lastKind: 'full',
      lastOutcome: 'failed',
      lastErrorCode: 'backup_key_wrong',
      lastSuccessId: incremental.id,
    });
    // The repository is as it was.
    expect((await service.list()).map((set) => set.id)).toEqual([full.id, incremental.id]);
  }, 60_000);

  it('verify refuses a backup set with one flipped byte in the repository', async () => {
    const setDir = path.join(env.PARLEY_BACKUP_DIR ?? '', 'backup', 'parley', incremental.id);
    const file = path.join(setDir, 'pg_data', 'global', 'pg_control.gz');
    const victim = existsSync(file) ? file : path.join(setDir, 'backup.manifest');
    const bytes = readFileSync(victim);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0x01;
    writeFileSync(victim, bytes);
    const refused = await service.verify(incremental.id).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(BackupError);
    expect(refused).toMatchObject({ code: 'backup_corrupt' });
    expect((refused as BackupError).message).toMatch(/pgbackrest verify found the repository damaged/);
    // Refused before the trial restore: no scratch directory is left behind.
    expect(readdirSync(os.tmpdir()).filter((name) => name.startsWith('parley-pgbackrest-verify-'))).toEqual(
      [],
    );
  }, 120_000);
  it('the compiled CLI drives the same: configure prints the archive settings, list the sets, restore refuses a non-empty target', async () => {
    const cliEnv = { ...env, PARLEY_DATA_DIR: tempDir('pg-cli-data') };
    const configured = await parley(['backup', 'configure'], cliEnv);
    expect(configured.code, configured.stderr).toBe(0);
    expect(JSON.parse(configured.stdout)).toMatchObject({
      stanza: 'parley',
      postgresql: {
        archive_mode: 'on',
        archive_command: expect.stringContaining('archive-push %p') as unknown,
      },
    });
    expect(configured.stdout).not.toMatch(/cipher-pass/);
    const listed = await parley(['backup', 'list'], cliEnv);
    expect(listed.code, listed.stderr).toBe(0);
    expect(
      (JSON.parse(listed.stdout) as { id: string; kind: string }[]).map((set) => [set.id, set.kind]),
    ).toEqual([
      [full.id, 'full'],
      [incremental.id, 'incremental'],
    ]);
    const occupied = tempDir('pg-cli-occupied');
    writeFileSync(path.join(occupied, 'keep-me'), 'x');
    const refused = await parley(['backup', 'restore', full.id, '--into', occupied], cliEnv);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is not empty: restore only into an empty/);
    expect(readdirSync(occupied)).toEqual(['keep-me']);
  }, 60_000);
  it('a backup taken before an erasure, restored and started, does not bring the erased user back', async () => {
    const owner = await newTenantOwner(server, 'Erasure Clinic');
    const victim = await newCanaryUser(server, owner);
    const beforeErasure = await service.create('full');
    // The erasure runs on a second node with its job runner on, sharing the master key and the register
    // (this test's own node has its jobs stopped).
    const shared = {
      PARLEY_MASTER_KEY_FILE: path.join(server.database.dataDir, 'master.key'),
      PARLEY_ERASURE_LOG_FILE: path.join(server.database.dataDir, 'erasures.log'),
    };
    const worker = await startTestServer({ env: { ...env, ...shared } });
    try {
      const erased = await worker.request(
        `/v1/users/${victim.userId}/erasure`,
        json({ graceDays: 0 }, owner.accessToken),
      );
      expect(erased.status, erased.text).toBe(202);
      await erasureReaching(worker, owner.accessToken, victim.userId);
    } finally {
      await worker.close();
    }

    const restored = await restoreAndStart({ id: beforeErasure.id });
    // The restored cluster still holds the account: the backup was taken before the erasure.
    const inBackup = await restored.query<{ n: string }>(
      'select count(*) as n from public.users where id = $1',
      [victim.userId],
    );
    expect(Number(inBackup[0]?.n)).toBe(1);
    const again = await startTestServer({ env: { ...env, ...shared, DATABASE_URL: restored.url } });
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
      await restored.stop();
    }
  }, 180_000);
  it('the server takes the scheduled full backup through pgBackRest itself and records it', async () => {
    const before = (await service.list()).map((set) => set.id);
    const scheduled = await startTestServer({
      env: {
        ...env,
        PARLEY_BACKUPS: 'true',
        PARLEY_BACKUP_FULL_CRON: '* * * * * *',
        PARLEY_BACKUP_INCREMENTAL_CRON: '0 0 1 1 *',
        PARLEY_MASTER_KEY_FILE: path.join(server.database.dataDir, 'master.key'),
      },
    });
    try {
      const until = Date.now() + 90_000;
      let written = scheduled.logs.entries().find((line) => line.msg === 'backup written');
      while (!written && Date.now() < until) {
        await sleep(200);
        written = scheduled.logs.entries().find((line) => line.msg === 'backup written');
      }
      expect(written).toMatchObject({ kind: 'full' });
      // pgBackRest's cipher pass is in its configuration file only, never in a log line.
      const config = readFileSync(env.PARLEY_PGBACKREST_CONFIG_FILE ?? '', 'utf8');
      const pass = /^repo1-cipher-pass=(\S+)$/m.exec(config)?.[1] ?? 'missing';
      expect(scheduled.logs.text()).not.toContain(pass);
      const id = String(written?.backupId);
      expect(before).not.toContain(id);
      expect((await service.list()).map((set) => set.id)).toContain(id);
      expect(await readBackupState(server.app.storage)).toMatchObject({
        lastOutcome: 'succeeded',
        lastKind: 'full',
        lastSuccessId: id,
      });
    } finally {
      await scheduled.close();
    }
  }, 150_000);
});
