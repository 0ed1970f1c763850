import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DataExportBody } from '@parley/protocol';
import type { AccessRecordView } from '../../../src/compliance/access-log/index.ts';
import { withAuditMaintenance } from '../../../src/compliance/audit/audit-prune-store.ts';
import { openStorage } from '../../../src/storage/database.ts';
import type { DialectName } from '../../../src/storage/dialects/dialect-adapter.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import {
  bearer,
  json,
  memberPassword,
  newMember,
  newTenantOwner,
  type SignedIn,
  signIn,
} from '../../support/identity-fixtures.ts';
import { openSocket } from '../../support/realtime-socket.ts';
import { ManualClock, newStaff } from '../../support/staff-fixtures.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';
import { downloadBytes, runDueJobs } from '../gdpr/export-download.ts';

/**
 * Who read what (issue 17 point 6). With the tenant's access logging on (or its HIPAA audit preset), every
 * read of message content or files leaves a record — history pages, search results, attachment downloads,
 * realtime deliveries to a device (coalesced into a sequence range per session and dialog), export downloads
 * — naming the reader (user, or staff with the support grant), the dialog and range or the file, when, and the
 * session. Attacks tried: a member asking who read what; a compliance officer of tenant A naming tenant B's
 * dialog; a stored record altered, removed or forged — each refused or detected.
 */
describeEachDialect('access log', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock();
  let owner: SignedIn;
  let bob: { userId: string; token: string };
  let officerToken: string;
  let dialogId: string;
  let seqs: number[];

  const page = async (token: string, query: string) => {
    const response = await server.request(`/v1/compliance/access-log?${query}`, bearer(token));
    expect(response.status, response.text).toBe(200);
    return response.json<{ records: AccessRecordView[]; nextCursor?: string }>().records;
  };
  const sessionOf = async (token: string) => {
    const grant = await server.app.services.sessions.validate(token, { touch: false });
    if (typeof grant === 'string') throw new Error(grant);
    return grant.principal.sessionId;
  };
  const flush = () => server.app.services.accessLog.recorder.flush();
  const historySeqs = async (token: string, id: string) => {
    const history = await server.request(`/v1/dialogs/${id}/messages`, bearer(token));
    expect(history.status, history.text).toBe(200);
    return history.json<{ messages: { seq: number }[] }>().messages.map((message) => message.seq);
  };
  const send = async (token: string, id: string, body: string) => {
    const sent = await server.request(
      `/v1/dialogs/${id}/messages`,
      json({ clientId: `c-${Math.random()}`, body }, token),
    );
    expect(sent.status, sent.text).toBe(201);
  };
  const newDialog = async (by: SignedIn, memberIds: string[], name = 'Ward 7') => {
    const created = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name, memberIds }, by.accessToken),
    );
    expect(created.status, created.text).toBe(201);
    return created.json<{ id: string }>().id;
  };
  const setLogging = async (who: SignedIn, accessLogging: 'on' | 'off' | 'preset') => {
    const changed = await server.request(
      '/v1/tenant/settings',
      json({ accessLogging }, who.accessToken, 'PATCH'),
    );
    expect(changed.status, changed.text).toBe(200);
    expect(changed.json()).toMatchObject({ accessLogging });
  };

  beforeAll(async () => {
    // Only the test's own flush() writes: a periodic flush falling between two deliveries would split what
    // one flush coalesces into one range (CI on a loaded machine met it).
    server = await startTestServer({ dialect, clock, env: { PARLEY_ACCESS_LOG_FLUSH_MS: '60000' } });
    owner = await newTenantOwner(server, 'Clinic A');
    await setLogging(owner, 'on');
    bob = await newMember(server, owner, 'bob@clinic-a.example', 'profile chat');
    const officer = await server.request(
      '/v1/users',
      json(
        {
          displayName: 'Olga Officer',
          email: 'olga@clinic-a.example',
          password: memberPassword,
          roles: ['compliance_officer'],
        },
        owner.accessToken,
      ),
    );
    expect(officer.status, officer.text).toBe(201);
    officerToken = (
      await signIn(server, owner.tenantId, 'olga@clinic-a.example', memberPassword, 'profile audit')
    ).accessToken;
    dialogId = await newDialog(owner, [bob.userId]);
    await send(owner.accessToken, dialogId, 'Patient 12 blood pressure 140 over 90');
    seqs = await historySeqs(owner.accessToken, dialogId);
    await flush();
  });
  afterAll(async () => {
    await server.close();
  });

  it('records a realtime delivery to a device as one sequence range per session and dialog', async () => {
    const socket = await openSocket(server, bob.token);
    try {
      const before = clock.now();
      for (const body of ['first dose given', 'second dose given', 'patient stable'])
        await send(owner.accessToken, dialogId, body);
      const latest = await historySeqs(owner.accessToken, dialogId);
      await socket.next((frame) => frame.type === 'message.new' && frame.seq === latest.at(-1));
      await flush();
      const session = await sessionOf(bob.token);
      const realtime = (await page(officerToken, `dialogId=${dialogId}&readerId=${bob.userId}`)).filter(
        (record) => record.kind === 'realtime',
      );
      expect(realtime).toHaveLength(1);
      expect(realtime[0]).toMatchObject({
        reader: { type: 'user', id: bob.userId, sessionId: session },
        supportGrantId: null,
        dialogId,
        seqRange: { from: latest.at(-3), to: latest.at(-1) },
        fileId: null,
      });
      expect(Date.parse(realtime[0]?.firstReadAt ?? '')).toBeGreaterThanOrEqual(before);
    } finally {
      socket.ws.close();
    }
  });

  it('records history pages, search results, attachment and export downloads with reader, session and range or file', async () => {
    const session = await sessionOf(bob.token);
    const shown = await historySeqs(bob.token, dialogId);
    const search = await server.request('/v1/search/messages?q=pressure', bearer(bob.token));
    expect(search.status, search.text).toBe(200);
    expect(search.json<{ results: unknown[] }>().results).toHaveLength(1);

    const uploaded = await server.request('/v1/attachments?name=chart.txt', {
      method: 'POST',
      headers: { authorization: `Bearer ${bob.token}`, 'content-type': 'application/octet-stream' },
      body: Buffer.from('chart of patient 12'),
    });
    expect(uploaded.status, uploaded.text).toBe(201);
    const fileId = uploaded.json<{ id: string }>().id;
    expect((await server.request(`/v1/attachments/${fileId}`, bearer(bob.token))).status).toBe(200);

    const asked = await server.request('/v1/me/exports', bearer(bob.token, 'POST'));
    expect(asked.status, asked.text).toBe(202);
    const exportId = asked.json<DataExportBody>().id;
    await runDueJobs(server);
    expect((await downloadBytes(server, `/v1/me/exports/${exportId}/archive`, bob.token)).status).toBe(200);
    await flush();

    const records = await page(officerToken, `readerId=${bob.userId}`);
    const reader = { type: 'user', id: bob.userId, sessionId: session };
    const pressure = seqs[0] ?? -1;
    expect(records).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'history',
          reader,
          dialogId,
          seqRange: { from: shown[0], to: shown.at(-1) },
        }),
        expect.objectContaining({
          kind: 'search',
          reader,
          dialogId,
          seqRange: { from: pressure, to: pressure },
        }),
        expect.objectContaining({ kind: 'attachment', reader, dialogId: null, seqRange: null, fileId }),
        expect.objectContaining({ kind: 'export', reader, fileId: exportId }),
      ]),
    );
    // Who read Bob's things: his file and his export, and nothing of Olivia's messages.
    const ofBob = await page(officerToken, `authorId=${bob.userId}`);
    expect(ofBob.map((record) => record.fileId).sort()).toEqual([exportId, fileId].sort());
  });

  it('answers who read a dialog between two times, a support grant read among them', async () => {
    const t1 = clock.now() + 60_000;
    clock.advance(120_000);
    const staff = await newStaff(server, 'support', clock);
    const asked = await server.request(
      '/v1/platform/support-grants',
      json(
        {
          tenantId: owner.tenantId,
          reason: 'Ticket 12: messages do not show.',
          scope: 'messages',
          dialogIds: [dialogId],
          durationHours: 2,
        },
        staff.accessToken,
      ),
    );
    expect(asked.status, asked.text).toBe(201);
    const grantId = asked.json<{ id: string }>().id;
    const approved = await server.request(
      `/v1/support-grants/${grantId}/approve`,
      json({}, owner.accessToken),
    );
    expect(approved.status, approved.text).toBe(200);
    const read = await server.request(`/v1/dialogs/${dialogId}/messages`, {
      headers: { authorization: `Bearer ${staff.accessToken}`, 'parley-support-grant': grantId },
    });
    expect(read.status, read.text).toBe(200);
    clock.advance(120_000);
    const t2 = clock.now() - 60_000;
    // After the window: Olivia reads too.
    await historySeqs(owner.accessToken, dialogId);
    await flush();

    const window = `dialogId=${dialogId}&from=${new Date(t1).toISOString()}&to=${new Date(t2).toISOString()}`;
    const inWindow = await page(officerToken, window);
    expect(inWindow).toEqual([
      expect.objectContaining({
        kind: 'history',
        reader: { type: 'staff', id: staff.id, sessionId: expect.any(String) as string },
        supportGrantId: grantId,
        dialogId,
      }),
    ]);
    const all = await page(officerToken, `dialogId=${dialogId}`);
    expect(new Set(all.map((record) => record.reader.id))).toEqual(
      new Set([owner.userId, bob.userId, staff.id]),
    );
    // Who read Olivia's messages after t1: the staff member and Olivia herself.
    const ofOwner = await page(officerToken, `authorId=${owner.userId}&from=${new Date(t1).toISOString()}`);
    expect(new Set(ofOwner.map((record) => record.reader.id))).toEqual(new Set([owner.userId, staff.id]));
  });

  it('pages with a cursor', async () => {
    const first = await server.request(
      `/v1/compliance/access-log?dialogId=${dialogId}&limit=1`,
      bearer(officerToken),
    );
    const body = first.json<{ records: AccessRecordView[]; nextCursor?: string }>();
    expect(body.records).toHaveLength(1);
    const cursor = body.nextCursor ?? '';
    expect(cursor).not.toBe('');
    const next = await page(officerToken, `dialogId=${dialogId}&limit=500&cursor=${cursor}`);
    const all = await page(officerToken, `dialogId=${dialogId}&limit=500`);
    expect([body.records[0]?.id, ...next.map((record) => record.id)]).toEqual(all.map((record) => record.id));
  });

  it('refuses a member (no audit.read), and answers 404 for another tenant’s dialog', async () => {
    const refused = await server.request(`/v1/compliance/access-log?dialogId=${dialogId}`, bearer(bob.token));
    expect(refused.status).toBe(403);
    const other = await newTenantOwner(server, 'Clinic B');
    const theirs = await newDialog(other, []);
    const crossing = await server.request(
      `/v1/compliance/access-log?dialogId=${theirs}`,
      bearer(officerToken),
    );
    expect([crossing.status, crossing.json<{ error: { code: string } }>().error.code]).toEqual([
      404,
      'not_found',
    ]);
    // And tenant B's officer (its owner) sees none of tenant A's records.
    expect(await page(other.accessToken, `readerId=${bob.userId}`)).toEqual([]);
  });

  it('records nothing while the setting is off, and follows the HIPAA preset when left to it', async () => {
    const quiet = await newTenantOwner(server, 'Clinic C');
    const quietDialog = await newDialog(quiet, []);
    await send(quiet.accessToken, quietDialog, 'nothing to see');
    await historySeqs(quiet.accessToken, quietDialog);
    await setLogging(quiet, 'off');
    await historySeqs(quiet.accessToken, quietDialog);
    await flush();
    expect(await page(quiet.accessToken, `dialogId=${quietDialog}`)).toEqual([]);

    const hipaa = await newTenantOwner(server, 'Clinic D');
    const rules = await server.request(
      '/v1/retention',
      json({ auditPreset: 'hipaa', auditMinimum: '2192d' }, hipaa.accessToken, 'PATCH'),
    );
    expect(rules.status, rules.text).toBe(200);
    const hipaaDialog = await newDialog(hipaa, []);
    await send(hipaa.accessToken, hipaaDialog, 'logged by the preset');
    await historySeqs(hipaa.accessToken, hipaaDialog);
    await flush();
    expect(await page(hipaa.accessToken, `dialogId=${hipaaDialog}`)).toEqual([
      expect.objectContaining({
        kind: 'history',
        reader: expect.objectContaining({ id: hipaa.userId }) as object,
      }),
    ]);
  });

  it('detects a stored record altered, removed or forged', async () => {
    const { accessLog, audit } = server.app.services;
    const tenantId = owner.tenantId;
    expect(await accessLog.verify(tenantId)).toMatchObject({ ok: true });
    const storage = server.app.storage;
    const [victim] = await storage.withTenant(tenantId, (tx) =>
      tx
        .selectFrom('access_log')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .orderBy('id')
        .limit(1)
        .execute(),
    );
    if (!victim) throw new Error('no record');
    // The attacker is a database administrator (the owner): the application role may only append (PostgreSQL).
    const asOwner = <T>(work: Parameters<typeof withAuditMaintenance<T>>[2]) =>
      withAuditMaintenance(storage, tenantId, work);
    const set = (readerId: string | null) =>
      asOwner((tx) =>
        tx.updateTable('access_log').set({ reader_id: readerId }).where('id', '=', victim.id).execute(),
      );
    await set('00000000-0000-4000-8000-000000000000');
    expect(await accessLog.verify(tenantId)).toMatchObject({
      ok: false,
      reason: 'batch_digest_mismatch',
      batchSeq: victim.batch_seq,
    });
    await set(victim.reader_id);
    expect(await accessLog.verify(tenantId)).toMatchObject({ ok: true });

    if (dialect === 'postgres') {
      // The application role may only append: an injected query cannot rewrite or remove a record.
      await expect(
        storage.withTenant(tenantId, (tx) =>
          tx.deleteFrom('access_log').where('id', '=', victim.id).execute(),
        ),
      ).rejects.toThrow(/permission denied/);
      await expect(
        storage.withTenant(tenantId, (tx) =>
          tx.updateTable('access_log').set({ reader_id: null }).where('id', '=', victim.id).execute(),
        ),
      ).rejects.toThrow(/permission denied/);
    }
    await asOwner((tx) => tx.deleteFrom('access_log').where('id', '=', victim.id).execute());
    expect(await accessLog.verify(tenantId)).toMatchObject({ ok: false, reason: 'batch_digest_mismatch' });
    await asOwner((tx) => tx.insertInto('access_log').values(victim).execute());
    expect(await accessLog.verify(tenantId)).toMatchObject({ ok: true });

    // A forged record (an injected insert) naming a chain entry that is no batch (the tenant's first entry).
    const first = await storage.withTenant(tenantId, (tx) =>
      audit.query(tx, tenantId, {}, { limit: 1, order: 'asc' }),
    );
    await storage.withTenant(tenantId, (tx) =>
      tx
        .insertInto('access_log')
        .values({
          ...victim,
          id: '00000000-0000-7000-8000-000000000001',
          batch_seq: first.entries[0]?.seq ?? 1,
        })
        .execute(),
    );
    expect(await accessLog.verify(tenantId)).toMatchObject({ ok: false, reason: 'unchained_records' });
    await asOwner((tx) =>
      tx.deleteFrom('access_log').where('id', '=', '00000000-0000-7000-8000-000000000001').execute(),
    );
    expect(await accessLog.verify(tenantId)).toMatchObject({ ok: true });
  });
});

describeEachDialect('access log on shutdown', (dialect: DialectName) => {
  it('writes the reads still pending when the server shuts down', async () => {
    // No timer flush within the test: what is written, the shutdown wrote.
    const server = await startTestServer({ dialect, env: { PARLEY_ACCESS_LOG_FLUSH_MS: '60000' } });
    let closed = false;
    try {
      const owner = await newTenantOwner(server, 'Clinic E');
      await server.request('/v1/tenant/settings', json({ accessLogging: 'on' }, owner.accessToken, 'PATCH'));
      const created = await server.request(
        '/v1/dialogs',
        json({ type: 'group', name: 'Night shift' }, owner.accessToken),
      );
      const id = created.json<{ id: string }>().id;
      const sent = await server.request(
        `/v1/dialogs/${id}/messages`,
        json({ clientId: 'night-1', body: 'handover notes' }, owner.accessToken),
      );
      expect(sent.status, sent.text).toBe(201);
      expect((await server.request(`/v1/dialogs/${id}/messages`, bearer(owner.accessToken))).status).toBe(
        200,
      );
      expect(server.app.services.accessLog.recorder.pending).toBeGreaterThan(0);
      await server.app.shutdown();
      closed = true;
      const storage = openStorage({
        dataDir: server.database.dataDir,
        databaseUrl: server.database.env.DATABASE_URL,
        databaseSchema: server.database.schema ?? 'public',
        databasePoolSize: 1,
      });
      try {
        const rows = await storage.withTenant(owner.tenantId, (tx) =>
          tx.selectFrom('access_log').selectAll().where('dialog_id', '=', id).execute(),
        );
        expect(rows).toEqual([expect.objectContaining({ kind: 'history', reader_id: owner.userId })]);
      } finally {
        await storage.close();
      }
    } finally {
      if (closed) await server.database.drop();
      else await server.close();
    }
  });
});
