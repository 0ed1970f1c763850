import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDialogBody, sendMessageBody } from '@parley/protocol';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { Clock } from '../../src/clock.ts';
import { KeyDestroyedError } from '../../src/crypto/keyring.ts';
import { openSecurityCore, type SecurityCore } from '../../src/crypto/security-core.ts';
import { createUserService } from '../../src/identity/user-service.ts';
import { messageLocation } from '../../src/messaging/message-presenter.ts';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import { tablesWithTenantId } from '../../src/storage/dialects/tenant-rows.ts';
import { createTenantCloseService } from '../../src/tenancy/tenant-close-service.ts';
import { createTenantPurge, verifyTenantCertificate } from '../../src/tenancy/tenant-purge.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newMember, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { openSocket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

const DAY_MS = 24 * 3600 * 1000;

describeEachDialect('tenant termination', (dialect) => {
  let server: TestServer;
  let offset = 0;
  const clock: Clock = { now: () => Date.now() + offset };

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
    // The purges here run when the test says: the node's own scheduler would race them once the clock moves.
    await server.app.jobs.stop(5000);
  });

  afterAll(async () => {
    await server.close();
  });

  /** A tenant with an owner, a member, a dialog between them and two messages. */
  async function world(name: string) {
    const owner = await newTenantOwner(server, name);
    const member = await newMember(server, owner, `member-${owner.userId.slice(-6)}@close.example`);
    const { services } = server.app;
    const dialog = await services.dialogs.create(
      owner.tenantId,
      owner.userId,
      createDialogBody.parse({ type: 'private', memberIds: [member.userId] }),
    );
    for (const [sender, body] of [
      [owner.userId, `${name}: first secret`],
      [member.userId, `${name}: second secret`],
    ] as const)
      await services.messages.send(
        owner.tenantId,
        sender,
        dialog.id,
        sendMessageBody.parse({ clientId: `${sender}-1`, body }),
      );
    return { owner, member, dialogId: dialog.id };
  }

  const send = (owner: SignedIn | { token: string }, dialogId: string, body: string) =>
    server.request(
      `/v1/dialogs/${dialogId}/messages`,
      json(
        { clientId: `c-${Math.random()}`, body },
        'accessToken' in owner ? owner.accessToken : owner.token,
      ),
    );

  /** Every row of the tenant, per table that has any. */
  async function rowsOf(storage: Storage, tenantId: string): Promise<Record<string, number>> {
    return storage.withSystem(async (tx) => {
      const counts: Record<string, number> = {};
      for (const table of await tablesWithTenantId(tx, storage.dialect, storage.adapter.schema)) {
        // The closure record is the proof of deletion, kept on purpose outside the tenant's data.
        if (table === 'tenant_closures') continue;
        const { rows } = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}
          where tenant_id = ${tenantId}`.execute(tx);
        const n = Number(rows[0]?.n ?? 0);
        if (n > 0) counts[table] = n;
      }
      return counts;
    });
  }

  it('an owner closes the tenant: REST writes and realtime sends are refused with tenant_closed, reads and the tenant-wide export go on, a member cannot close or reopen, and reopening restores writes', async () => {
    const { owner, member, dialogId } = await world('Closing Co');
    const socket = await openSocket(server, member.token);
    try {
      expect((await server.request('/v1/tenant/closure', json({}, member.token))).status).toBe(403);
      const closed = await server.request(
        '/v1/tenant/closure',
        json({ exportWindowDays: 30 }, owner.accessToken),
      );
      expect(
        closed.status,
        closed.text +
          server.logs
            .text()
            .split('\n')
            .filter((line) => line.includes('"level":50'))
            .join('\n'),
      ).toBe(201);
      const closure = closed.json<{ stage: string; exportUntil: string; closedAt: string }>();
      expect(closure.stage).toBe('closed');
      expect(Date.parse(closure.exportUntil) - Date.parse(closure.closedAt)).toBe(30 * DAY_MS);

      const refused = await send(member, dialogId, 'after close');
      expect(refused.status).toBe(409);
      expect(refused.json<{ error: { code: string } }>().error.code).toBe('tenant_closed');
      const settings = await server.request(
        '/v1/tenant/settings',
        json({ signupMode: 'open' }, owner.accessToken, 'PATCH'),
      );
      expect(settings.json<{ error: { code: string } }>().error.code).toBe('tenant_closed');
      socket.send({ type: 'message.send', id: 'rt-closed', dialogId, body: 'live after close' });
      expect(await socket.next((frame) => frame.type === 'error' && frame.id === 'rt-closed')).toMatchObject({
        code: 'tenant_closed',
      });
      // Nothing of the refused sends was stored.
      const history = await server.request(`/v1/dialogs/${dialogId}/messages`, bearer(member.token));
      expect(history.status).toBe(200);
      expect(history.text).not.toContain('after close');
      expect(history.text).toContain('Closing Co: first secret');

      expect((await server.request('/v1/tenant/export', bearer(member.token, 'POST'))).status).toBe(403);
      const exported = await server.request('/v1/tenant/export', bearer(owner.accessToken, 'POST'));
      expect(exported.status, exported.text).toBe(202);
      const { exports } = exported.json<{ exports: { userId: string; exportId: string }[] }>();
      expect(exports.map((entry) => entry.userId).sort()).toEqual([owner.userId, member.userId].sort());

      expect((await server.request('/v1/tenant/closure', bearer(member.token, 'DELETE'))).status).toBe(403);
      const reopened = await server.request('/v1/tenant/closure', bearer(owner.accessToken, 'DELETE'));
      expect(reopened.status, reopened.text).toBe(200);
      expect(reopened.json<{ stage: string }>().stage).toBe('active');
      expect((await send(member, dialogId, 'after reopen')).status).toBe(201);
      const again = await server.request('/v1/tenant/closure', bearer(owner.accessToken, 'DELETE'));
      expect(again.json<{ error: { code: string } }>().error.code).toBe('tenant_not_closed');
    } finally {
      socket.ws.close();
    }
  });

  it('the purge waits for the export window and refuses while a legal hold exists; then it deletes every row of the tenant, destroys its keys, signs a certificate kept outside the tenant, and nothing reopens it', async () => {
    const { tenantClosures } = server.app.services;
    const doomed = await world('Doomed Ltd');
    const kept = await world('Kept GmbH');
    const tenantId = doomed.owner.tenantId;
    await tenantClosures.close(tenantId, { type: 'operator' });
    expect((await tenantClosures.list(['closed'])).map((entry) => entry.tenantId)).toContain(tenantId);
    await expect(tenantClosures.purgeDue()).resolves.toEqual({ purged: [], held: [] });
    await expect(
      tenantClosures.purgeDue().then(() => tenantClosures.status(tenantId)),
    ).resolves.toMatchObject({ stage: 'closed' });
    offset += 31 * DAY_MS;

    // A legal hold on one user of the tenant refuses the purge; the tenant stays closed until it is released.
    const { legalHolds } = server.app.services;
    const holder = {
      userId: doomed.owner.userId,
      actor: { type: 'user' as const, id: doomed.owner.userId },
      context: {},
    };
    const hold = await legalHolds.place(tenantId, holder, {
      targetType: 'user',
      targetId: doomed.member.userId,
      reason: 'litigation',
    });
    await expect(tenantClosures.purgeDue()).resolves.toEqual({ purged: [], held: [tenantId] });
    expect((await tenantClosures.status(tenantId)).stage).toBe('closed');
    await legalHolds.release(tenantId, holder, hold.id);

    const before = await rowsOf(server.app.storage, tenantId);
    expect(before.messages).toBe(2);
    const keptBefore = await rowsOf(server.app.storage, kept.owner.tenantId);
    const copy = await copyDatabase();
    try {
      // The attack is real: the copy opened with the keyring state from before the purge reads the tenant.
      const early = await openCopy(copy.storage);
      expect(await readBodies(copy.storage, early, tenantId)).toContain('Doomed Ltd: first secret');
      const earlyUsers = createUserService({ storage: copy.storage, security: early, clock });
      expect((await earlyUsers.getUser(tenantId, doomed.owner.userId)).displayName).toBe('Olivia Owner');

      const { purged } = await tenantClosures.purgeDue();
      expect(purged).toEqual([tenantId]);
      expect(await rowsOf(server.app.storage, tenantId)).toEqual({});
      const tenantRow = await server.app.storage.withSystem((tx) =>
        tx.selectFrom('tenants').select('id').where('id', '=', tenantId).executeTakeFirst(),
      );
      expect(tenantRow).toBeUndefined();
      const status = await tenantClosures.status(tenantId);
      expect(status.stage).toBe('purged');
      const certificate = status.certificate;
      if (!certificate) throw new Error('no certificate');
      expect(verifyTenantCertificate(certificate)).toBe(true);
      expect(certificate.certificate.rowsDeleted).toMatchObject({ messages: 2, users: 2 });
      expect(certificate.certificate.keysDestroyed).toBeGreaterThan(0);
      // Tampering shows.
      expect(
        verifyTenantCertificate({
          ...certificate,
          certificate: { ...certificate.certificate, rowsDeleted: { messages: 1 } },
        }),
      ).toBe(false);
      await expect(tenantClosures.reopen(tenantId, { type: 'operator' })).rejects.toMatchObject({
        code: 'tenant_purge_started',
      });
      await expect(tenantClosures.close(tenantId, { type: 'operator' })).rejects.toMatchObject({
        code: 'tenant_purged',
      });
      expect((await tenantClosures.list(['purged'])).map((entry) => entry.tenantId)).toContain(tenantId);

      // The copy from before the purge, started with the keyring state after it: not one field of the
      // purged tenant opens; the other tenant in the same copy is intact.
      const late = await openCopy(copy.storage);
      await expect(readBodies(copy.storage, late, tenantId)).rejects.toBeInstanceOf(KeyDestroyedError);
      const users = createUserService({ storage: copy.storage, security: late, clock });
      for (const userId of [doomed.owner.userId, doomed.member.userId])
        expect(await users.getUser(tenantId, userId)).toMatchObject({ displayName: null, email: null });
      await expect(users.findByEmail(tenantId, doomed.owner.email)).rejects.toBeInstanceOf(KeyDestroyedError);
      const keys = await copy.storage.withTenant(tenantId, (tx) =>
        tx.selectFrom('tenant_keys').select('version').where('tenant_id', '=', tenantId).execute(),
      );
      expect(keys).toEqual([]);
      expect(await readBodies(copy.storage, late, kept.owner.tenantId)).toContain('Kept GmbH: first secret');
      expect((await users.getUser(kept.owner.tenantId, kept.member.userId)).displayName).toBeTruthy();
    } finally {
      await copy.close();
    }
    // The other tenant is untouched on the live database as well.
    expect(await rowsOf(server.app.storage, kept.owner.tenantId)).toEqual(keptBefore);
  });

  it('an interrupted purge resumes where it stopped and counts every row once', async () => {
    const { tenantClosures } = server.app.services;
    const { owner } = await world('Halfway Inc');
    const tenantId = owner.tenantId;
    await tenantClosures.close(tenantId, { type: 'operator' }, { exportWindowDays: 0 });
    const before = await rowsOf(server.app.storage, tenantId);
    const slow = createTenantPurge({
      storage: server.app.storage,
      clock,
      audit: server.app.services.audit,
      keyring: server.app.security.keyring,
      signingKeys: server.app.security.signingKeys,
      holds: () => Promise.resolve(false),
      batchSize: 2,
    });
    let checks = 0;
    const stopsAfterThree = {
      throwIfAborted() {
        checks += 1;
        if (checks > 3) throw new Error('node stopped');
      },
    } as AbortSignal;
    await expect(slow.purge(tenantId, stopsAfterThree)).rejects.toThrow('node stopped');
    const halfway = await tenantClosures.status(tenantId);
    expect(halfway.stage).toBe('purging');
    const deletedSoFar = Object.values(halfway.progress?.rowsDeleted ?? {}).reduce((a, b) => a + b, 0);
    expect(deletedSoFar).toBeGreaterThan(0);
    expect(deletedSoFar).toBeLessThanOrEqual(6);
    // While it is purged, the tenant answers nothing.
    const refused = await server.request('/v1/me', bearer(owner.accessToken));
    expect(refused.status).toBe(410);
    const closures = createTenantCloseService({
      storage: server.app.storage,
      clock,
      audit: server.app.services.audit,
      purge: slow,
    });
    expect((await closures.purgeDue()).purged).toEqual([tenantId]);
    const done = await tenantClosures.status(tenantId);
    expect(done.stage).toBe('purged');
    const deleted = done.certificate?.certificate.rowsDeleted ?? {};
    // Every row counted once: what was there before, less the key rows (destroyed first, counted as keys).
    const { tenant_keys: tenantKeys = 0, user_keys: userKeys = 0, ...dataRows } = before;
    expect(done.certificate?.certificate.keysDestroyed).toBe(tenantKeys + userKeys);
    // Counted once across the two runs (rows a trigger removes with their parent, as PostgreSQL's search terms
    // with their entry, go uncounted but go).
    for (const [table, count] of Object.entries(deleted)) expect(count, table).toBe(dataRows[table]);
    expect(deleted).toMatchObject({ messages: 2, users: 2, sessions: expect.any(Number) });
    expect(await rowsOf(server.app.storage, tenantId)).toEqual({});
  });

  /** The "restore": the same master key and registers (the keyring state after the purge), the copied database. */
  function openCopy(storage: Storage): Promise<SecurityCore> {
    return openSecurityCore({
      storage,
      clock,
      masterKeyFile: server.app.config.masterKeyFile,
      erasureLogFile: server.app.config.erasureLogFile,
      generateIfMissing: false,
    });
  }

  async function readBodies(storage: Storage, security: SecurityCore, tenantId: string): Promise<string[]> {
    return storage.withTenant(tenantId, async (tx) => {
      const rows = await tx
        .selectFrom('messages')
        .select(['id', 'tenant_id', 'body'])
        .where('tenant_id', '=', tenantId)
        .execute();
      const bodies: string[] = [];
      for (const row of rows)
        bodies.push(await security.fieldCipher.open(tx, messageLocation(row, 'body'), row.body ?? ''));
      return bodies;
    });
  }

  /** A copy of the whole database as it is now: the SQLite file, or every table of the PostgreSQL schema. */
  async function copyDatabase(): Promise<{ storage: Storage; close(): Promise<void> }> {
    if (dialect === 'sqlite') {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-tenant-copy-'));
      const file = path.join(server.database.dataDir, 'parley.db');
      await sql`pragma wal_checkpoint(full)`.execute(server.app.storage.kysely);
      for (const suffix of ['', '-wal', '-shm']) {
        try {
          copyFileSync(`${file}${suffix}`, path.join(dir, `parley.db${suffix}`));
        } catch {
          // no such file
        }
      }
      const storage = openStorage({ dataDir: dir, databaseSchema: 'public', databasePoolSize: 1 });
      return {
        storage,
        async close() {
          await storage.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    const url = inject('postgresUrl');
    const from = server.database.schema ?? 'public';
    const to = `${from}_copy`;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`create schema ${to}`);
      const { rows } = await client.query<{ name: string }>(
        `select table_name as name from information_schema.tables where table_schema = $1 and table_type = 'BASE TABLE'`,
        [from],
      );
      for (const { name } of rows) {
        await client.query(`create table ${to}."${name}" (like ${from}."${name}" including defaults)`);
        await client.query(`insert into ${to}."${name}" select * from ${from}."${name}"`);
      }
      await client.query(`grant usage on schema ${to} to parley_app`);
      await client.query(`grant select, insert, update, delete on all tables in schema ${to} to parley_app`);
    } finally {
      await client.end();
    }
    const storage = openStorage({
      dataDir: server.database.dataDir,
      databaseUrl: url,
      databaseSchema: to,
      databasePoolSize: 2,
    });
    return {
      storage,
      async close() {
        await storage.close();
        const dropper = new pg.Client({ connectionString: url });
        await dropper.connect();
        await dropper.query(`drop schema if exists ${to} cascade`);
        await dropper.end();
      },
    };
  }
});
