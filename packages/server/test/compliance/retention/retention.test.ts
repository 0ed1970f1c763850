import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../support/dialects.ts';
import { bearer, json, newMember, newTenantOwner, type SignedIn } from '../../support/identity-fixtures.ts';
import { startTestServer, type TestResponse, type TestServer } from '../../support/start-server.ts';
import { RETENTION_SWEEP_INTERVAL_MS } from '../../../src/compliance/retention/retention-sweeper.ts';

/**
 * Retention (issue 14): rules validated with precise errors, the sweeper deleting what expired (whole
 * messages, with a sequenced deletion event each), legal holds skipping what they cover (and a hold on
 * another tenant's object refused as 404), the dry run, and the deletion receipt in the audit chain.
 * Attacks tried: a member setting a longer dialog rule than the tenant's, a hold on another tenant's user
 * and dialog, a member placing a hold.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describeEachDialect('retention', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let offset = 0;
  const clock = { now: () => Date.now() + offset };
  const codeOf = (response: TestResponse) => response.json<{ error: { code: string } }>().error.code;

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
    owner = await newTenantOwner(server, 'Retention Clinic');
  });

  afterAll(async () => {
    await server.close();
  });

  const patch = (body: unknown, token = owner.accessToken) =>
    server.request('/v1/retention', json(body, token, 'PATCH'));

  it('refuses rules that cannot be meant, each with its own code, and keeps the rules unchanged', async () => {
    const defaults = await server.request('/v1/retention', bearer(owner.accessToken));
    expect(defaults.status, defaults.text).toBe(200);
    expect(defaults.json()).toMatchObject({ messages: null, ipMinimisationDays: 30, auditPreset: 'none' });

    const short = await patch({ messages: '30m' });
    expect(short.status).toBe(400);
    expect(codeOf(short)).toBe('retention_rule_too_short');
    const hipaa = await patch({ auditPreset: 'hipaa', auditMinimum: '365d' });
    expect(hipaa.status).toBe(400);
    expect(codeOf(hipaa)).toBe('retention_below_legal_minimum');
    const underMinimum = await patch({ auditMinimum: '730d', auditMaximum: '365d' });
    expect(codeOf(underMinimum)).toBe('retention_below_legal_minimum');
    const conflict = await patch({ messages: '30d', searchEntries: '60d' });
    expect(codeOf(conflict)).toBe('retention_rules_conflict');
    expect((await server.request('/v1/retention', bearer(owner.accessToken))).json()).toEqual(
      defaults.json(),
    );

    const ok = await patch({ auditPreset: 'hipaa', auditMinimum: '2192d', messages: '30d' });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json()).toMatchObject({ auditPreset: 'hipaa', auditMinimum: '2192d', messages: '30d' });
  });

  it('lets a dialog’s admin make its rule stricter, never longer; an administrator may make it longer', async () => {
    const member = await newMember(server, owner, `dialog-admin-${Date.now()}@retention.example`);
    const created = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Ward', memberIds: [] }, member.token),
    );
    expect(created.status, created.text).toBe(201);
    const dialogId = created.json<{ id: string }>().id;
    await patch({ messages: '30d' });
    const longer = await server.request(
      `/v1/dialogs/${dialogId}/retention`,
      json({ messages: '90d' }, member.token, 'PUT'),
    );
    expect(longer.status).toBe(403);
    expect(codeOf(longer)).toBe('retention_longer_than_tenant');
    const stricter = await server.request(
      `/v1/dialogs/${dialogId}/retention`,
      json({ messages: '7d' }, member.token, 'PUT'),
    );
    expect(stricter.status, stricter.text).toBe(200);
    expect(stricter.json()).toMatchObject({ messages: '7d', effective: { messages: '7d' } });
    const byAdmin = await server.request(
      `/v1/retention/dialogs/${dialogId}`,
      json({ messages: null }, owner.accessToken, 'PUT'),
    );
    expect(byAdmin.status, byAdmin.text).toBe(200);
    expect(byAdmin.json()).toMatchObject({ messages: null, effective: { messages: null } });
  });

  it('a hold on another tenant’s user or dialog is 404, and a member cannot place one', async () => {
    const other = await newTenantOwner(server, 'Other Clinic');
    const otherDialog = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Theirs', memberIds: [] }, other.accessToken),
    );
    for (const body of [
      { targetType: 'user', targetId: other.userId, reason: 'litigation' },
      { targetType: 'dialog', targetId: otherDialog.json<{ id: string }>().id, reason: 'litigation' },
    ]) {
      const refused = await server.request('/v1/legal-holds', json(body, owner.accessToken));
      expect(refused.status).toBe(404);
    }
    const member = await newMember(server, owner, `holdless-${Date.now()}@retention.example`);
    const denied = await server.request(
      '/v1/legal-holds',
      json({ targetType: 'tenant', reason: 'no' }, member.token),
    );
    expect(denied.status).toBe(403);
    const held = await server.app.storage.withTenant(other.tenantId, (tx) =>
      tx.selectFrom('legal_holds').select('id').execute(),
    );
    expect(held).toEqual([]);
  });

  it('sweeps what expired, whole messages with sequenced deletions, skipping held data, and leaves a receipt', async () => {
    const tenant = await newTenantOwner(server, 'Sweep Clinic');
    const member = await newMember(server, tenant, `held-${Date.now()}@retention.example`, 'profile chat');
    const dialog = async (name: string, token = tenant.accessToken) =>
      (
        await server.request('/v1/dialogs', json({ type: 'group', name, memberIds: [member.userId] }, token))
      ).json<{ id: string }>().id;
    const plain = await dialog('Plain');
    const heldDialog = await dialog('Held');
    const send = async (dialogId: string, body: string, token = tenant.accessToken) => {
      const sent = await server.request(
        `/v1/dialogs/${dialogId}/messages`,
        json({ clientId: `${body}-${Math.random()}`, body }, token),
      );
      expect(sent.status, sent.text).toBe(201);
      return sent.json<{ id: string; seq: number }>();
    };
    const old = [
      await send(plain, 'old one'),
      await send(plain, 'old two'),
      await send(heldDialog, 'held dialog'),
    ];
    const byHeldUser = await send(plain, 'held user', member.token);
    await server.request(
      `/v1/dialogs/${plain}/messages/${old[0]?.id ?? ''}/reactions/${encodeURIComponent('👍')}`,
      json({}, tenant.accessToken, 'PUT'),
    );
    expect(
      (
        await server.request(
          '/v1/retention',
          json({ messages: '2d', searchEntries: '1d' }, tenant.accessToken, 'PATCH'),
        )
      ).status,
    ).toBe(200);
    for (const body of [
      { targetType: 'dialog', targetId: heldDialog, reason: 'Case 12' },
      { targetType: 'user', targetId: member.userId, reason: 'Case 13' },
    ])
      expect((await server.request('/v1/legal-holds', json(body, tenant.accessToken))).status).toBe(201);
    const lastSeqBefore = await lastSeq(plain, tenant.tenantId);

    // Past the rule plus one sweep interval.
    offset += 2 * DAY + RETENTION_SWEEP_INTERVAL_MS;
    const recent = await server.app.services.messages.send(tenant.tenantId, tenant.userId, plain, {
      clientId: `recent-${Date.now()}`,
      body: 'recent',
      mentions: [],
      attachments: [],
    });

    const plan = await server.app.services.retentionSweeper.plan(tenant.tenantId);
    expect(plan.rules.find((rule) => rule.rule === 'messages')).toEqual({
      rule: 'messages',
      count: 2,
      held: 2,
    });
    expect(JSON.stringify(plan)).not.toContain('old one');

    await server.app.services.retentionSweeper.sweep({ tenantId: tenant.tenantId });

    const rows = await server.app.storage.withTenant(tenant.tenantId, (tx) =>
      tx
        .selectFrom('messages')
        .select(['id', 'body', 'deleted_at', 'created_at'])
        .where('tenant_id', '=', tenant.tenantId)
        .execute(),
    );
    const cutoff = clock.now() - 2 * DAY - RETENTION_SWEEP_INTERVAL_MS;
    // Nothing older than the rule plus one interval holds content, unless a hold covers it.
    const heldIds = new Set([old[2]?.id, byHeldUser.id]);
    for (const row of rows.filter(
      (r) => r.created_at < cutoff + RETENTION_SWEEP_INTERVAL_MS && !heldIds.has(r.id),
    )) {
      expect(row.body).toBeNull();
      expect(row.deleted_at).not.toBeNull();
    }
    for (const row of rows.filter((r) => heldIds.has(r.id))) expect(row.body).not.toBeNull();
    const leftovers = await server.app.storage.withTenant(tenant.tenantId, async (tx) => ({
      reactions: await tx
        .selectFrom('message_reactions')
        .select('message_id')
        .where('tenant_id', '=', tenant.tenantId)
        .execute(),
      search: await tx
        .selectFrom('message_search')
        .select('message_id')
        .where('tenant_id', '=', tenant.tenantId)
        .execute(),
      events: await tx
        .selectFrom('dialog_events')
        .select(['seq', 'kind', 'message_id'])
        .where('tenant_id', '=', tenant.tenantId)
        .where('dialog_id', '=', plain)
        .orderBy('seq')
        .execute(),
    }));
    expect(leftovers.reactions).toEqual([]);
    // Search entries older than their rule (a day) are gone, except the held user's and the held dialog's;
    // the message sent after the clock moved keeps its entry.
    expect(leftovers.search.map((row) => row.message_id).sort()).toEqual(
      [old[2]?.id, byHeldUser.id, recent.message.id].sort(),
    );
    // Clients see each expiry as a sequenced deletion after what they had: no gap.
    const deletions = leftovers.events.filter((event) => event.kind === 'deleted');
    expect(deletions.map((event) => event.message_id).sort()).toEqual([old[0]?.id, old[1]?.id].sort());
    // After the message sent once the clock moved (lastSeqBefore + 1).
    expect(deletions.map((event) => event.seq)).toEqual([lastSeqBefore + 2, lastSeqBefore + 3]);

    const receipts = await server.app.storage.withTenant(tenant.tenantId, (tx) =>
      tx
        .selectFrom('audit_log')
        .select(['details'])
        .where('tenant_id', '=', tenant.tenantId)
        .where('action', '=', 'retention.sweep_receipt')
        .execute(),
    );
    expect(receipts).toHaveLength(1);
    const receipt = JSON.parse(receipts[0]?.details ?? '{}') as {
      rules: Record<string, { count: number; firstId: string; lastId: string; rule: string }>;
    };
    expect(receipt.rules.messages).toMatchObject({ count: 2, rule: '2d' });
    expect(receipt.rules.messages?.firstId).toBe([old[0]?.id ?? '', old[1]?.id ?? ''].sort()[0]);
    expect(JSON.stringify(receipt)).not.toContain('old one');
    expect((await server.app.services.audit.verify(server.app.storage, tenant.tenantId)).ok).toBe(true);

    // A second sweep finds nothing more and leaves no second receipt.
    await server.app.services.retentionSweeper.sweep({ tenantId: tenant.tenantId });
    expect(
      await server.app.storage.withTenant(tenant.tenantId, (tx) =>
        tx
          .selectFrom('audit_log')
          .select('seq')
          .where('tenant_id', '=', tenant.tenantId)
          .where('action', '=', 'retention.sweep_receipt')
          .execute(),
      ),
    ).toHaveLength(1);
  });

  it('leaves nothing older than its rule plus one sweep interval in any swept table', async () => {
    const tenant = await newTenantOwner(server, 'Every Table Clinic');
    const tenantId = tenant.tenantId;
    const dialogId = (
      await server.request(
        '/v1/dialogs',
        json({ type: 'group', name: 'All', memberIds: [] }, tenant.accessToken),
      )
    ).json<{ id: string }>().id;
    await server.request(
      `/v1/dialogs/${dialogId}/messages`,
      json({ clientId: 'every-table', body: 'to expire' }, tenant.accessToken),
    );
    const rule = '1d';
    const patched = await server.request(
      '/v1/retention',
      json(
        {
          messages: rule,
          attachments: rule,
          callRecords: rule,
          searchEntries: rule,
          sessions: rule,
          mailOutbox: rule,
          exportArchives: rule,
        },
        tenant.accessToken,
        'PATCH',
      ),
    );
    expect(patched.status, patched.text).toBe(200);
    const at = clock.now();
    const id = () => crypto.randomUUID();
    const callId = id();
    const fileId = id();
    await server.app.storage.withTenant(tenantId, async (tx) => {
      await tx
        .insertInto('calls')
        .values({
          id: callId,
          tenant_id: tenantId,
          dialog_id: dialogId,
          caller_id: tenant.userId,
          caller_device_id: 'device',
          media: 'audio',
          state: 'ended',
          outcome: 'completed',
          created_at: at,
          answered_at: at,
          ended_at: at,
        })
        .execute();
      await tx
        .insertInto('call_participants')
        .values({
          tenant_id: tenantId,
          call_id: callId,
          user_id: tenant.userId,
          state: 'left',
          device_id: null,
          joined_at: at,
          left_at: at,
        })
        .execute();
      await tx
        .insertInto('mail_outbox')
        .values({
          id: id(),
          tenant_id: tenantId,
          recipient: 'x',
          subject: 'x',
          body: 'x',
          kind: 'invite',
          created_at: at,
          sent_at: null,
        })
        .execute();
      await tx
        .insertInto('attachments')
        .values({
          id: fileId,
          tenant_id: tenantId,
          uploader_id: tenant.userId,
          status: 'complete',
          name: 'x',
          declared_type: null,
          content_type: 'text/plain',
          size: 1,
          content_key: 'x',
          stream_header: 'x',
          chunk_count: 1,
          created_at: at,
          completed_at: at,
        })
        .execute();
      await tx
        .insertInto('attachment_chunks')
        .values({ tenant_id: tenantId, attachment_id: fileId, idx: 0, data: Buffer.from('x') })
        .execute();
      await tx
        .insertInto('data_exports')
        .values({
          id: id(),
          tenant_id: tenantId,
          subject_id: tenant.userId,
          requested_by: tenant.userId,
          source: 'subject',
          request_id: null,
          job_id: id(),
          status: 'destroyed',
          others_messages: 'redacted',
          retention_days: 7,
          archive_key: null,
          part_count: 0,
          archive_bytes: 0,
          records: 0,
          error_code: null,
          download_count: 0,
          created_at: at,
          started_at: at,
          completed_at: at,
          expires_at: at,
          destroyed_at: at,
          destroyed_reason: 'expired',
          updated_at: at,
        })
        .execute();
    });

    // The owner signs out: the session ended, with its sign-in record (device: IP and user agent).
    await server.app.storage.withTenant(tenantId, (tx) =>
      tx
        .updateTable('sessions')
        .set({ revoked_at: at, revoked_reason: 'signed_out' })
        .where('tenant_id', '=', tenantId)
        .execute(),
    );

    offset += DAY + RETENTION_SWEEP_INTERVAL_MS;
    await server.app.services.retentionSweeper.sweep({ tenantId });

    const cutoff = clock.now() - DAY - RETENTION_SWEEP_INTERVAL_MS;
    const left = await server.app.storage.withTenant(tenantId, async (tx) => ({
      liveMessages: await tx
        .selectFrom('messages')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('created_at', '<', cutoff + RETENTION_SWEEP_INTERVAL_MS)
        .where('body', 'is not', null)
        .execute(),
      search: await tx
        .selectFrom('message_search')
        .select('message_id')
        .where('tenant_id', '=', tenantId)
        .execute(),
      calls: await tx.selectFrom('calls').select('id').where('tenant_id', '=', tenantId).execute(),
      participants: await tx
        .selectFrom('call_participants')
        .select('call_id')
        .where('tenant_id', '=', tenantId)
        .execute(),
      mail: await tx.selectFrom('mail_outbox').select('id').where('tenant_id', '=', tenantId).execute(),
      files: await tx.selectFrom('attachments').select('id').where('tenant_id', '=', tenantId).execute(),
      chunks: await tx
        .selectFrom('attachment_chunks')
        .select('idx')
        .where('tenant_id', '=', tenantId)
        .execute(),
      exports: await tx.selectFrom('data_exports').select('id').where('tenant_id', '=', tenantId).execute(),
      sessions: await tx.selectFrom('sessions').select('id').where('tenant_id', '=', tenantId).execute(),
    }));
    expect(left).toEqual({
      liveMessages: [],
      search: [],
      calls: [],
      participants: [],
      mail: [],
      files: [],
      chunks: [],
      exports: [],
      sessions: [],
    });
    const receipt = await server.app.storage.withTenant(tenantId, (tx) =>
      tx
        .selectFrom('audit_log')
        .select('details')
        .where('tenant_id', '=', tenantId)
        .where('action', '=', 'retention.sweep_receipt')
        .executeTakeFirstOrThrow(),
    );
    const rules = (JSON.parse(receipt.details) as { rules: Record<string, { count: number }> }).rules;
    expect(Object.keys(rules).sort()).toEqual(
      ['attachments', 'callRecords', 'exportArchives', 'mailOutbox', 'messages', 'sessions'].sort(),
    );
  });

  async function lastSeq(dialogId: string, tenantId: string) {
    const row = await server.app.storage.withTenant(tenantId, (tx) =>
      tx.selectFrom('dialogs').select('last_seq').where('id', '=', dialogId).executeTakeFirstOrThrow(),
    );
    return row.last_seq;
  }
});
