import { afterAll, beforeAll, expect, it } from 'vitest';
import { RETENTION_SWEEP_INTERVAL_MS } from '../../../src/compliance/retention/retention-sweeper.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import { json, newMember, newTenantOwner, type SignedIn } from '../../support/identity-fixtures.ts';
import { startTestServer, type TestResponse, type TestServer } from '../../support/start-server.ts';

/**
 * Per-dialog overrides of every dialog-scoped rule (issue 14, point 1): messages and their events, the files
 * shared in the dialog, its call records and its search entries. Each kind of a dialog with an override goes
 * by that dialog's rule, the other dialogs' by the tenant's, and a legal hold still wins. Attacks tried: a
 * dialog owner making a rule longer than the tenant's, too short, or search entries outliving messages; an
 * owner or administrator setting rules on another tenant's dialog (404).
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describeEachDialect('retention: per-dialog overrides', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let offset = 0;
  const clock = { now: () => Date.now() + offset };
  const codeOf = (response: TestResponse) => response.json<{ error: { code: string } }>().error.code;

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
    owner = await newTenantOwner(server, 'Override Clinic');
  });

  afterAll(async () => {
    await server.close();
  });

  const newDialog = async (name: string, token: string) => {
    const created = await server.request('/v1/dialogs', json({ type: 'group', name, memberIds: [] }, token));
    expect(created.status, created.text).toBe(201);
    return created.json<{ id: string }>().id;
  };

  it('lets a dialog owner make each kind stricter only, refusing with the tenant rules’ codes', async () => {
    const member = await newMember(server, owner, `override-owner-${Date.now()}@retention.example`);
    const dialogId = await newDialog('Strict', member.token);
    const patched = await server.request(
      '/v1/retention',
      json({ messages: '30d', attachments: '30d', callRecords: '30d' }, owner.accessToken, 'PATCH'),
    );
    expect(patched.status, patched.text).toBe(200);
    const put = (body: unknown, token = member.token) =>
      server.request(`/v1/dialogs/${dialogId}/retention`, json(body, token, 'PUT'));

    for (const [body, status, code] of [
      [{ attachments: '60d' }, 403, 'retention_longer_than_tenant'],
      [{ callRecords: null }, 403, 'retention_longer_than_tenant'],
      [{ searchEntries: '40d' }, 400, 'retention_rules_conflict'],
      [{ callRecords: '30m' }, 400, 'retention_rule_too_short'],
      [{ messages: '59m' }, 400, 'retention_rule_too_short'],
      [{ messages: '2d', searchEntries: '3d' }, 400, 'retention_rules_conflict'],
    ] as const) {
      const refused = await put(body);
      expect(refused.status, JSON.stringify(body)).toBe(status);
      expect(codeOf(refused)).toBe(code);
    }
    expect((await put({})).status).toBe(400);

    const stricter = await put({ messages: '7d', attachments: '2d', callRecords: '1d', searchEntries: '1d' });
    expect(stricter.status, stricter.text).toBe(200);
    expect(stricter.json()).toEqual({
      dialogId,
      messages: '7d',
      attachments: '2d',
      callRecords: '1d',
      searchEntries: '1d',
      effective: { messages: '7d', attachments: '2d', callRecords: '1d', searchEntries: '1d' },
    });

    // An administrator (retention.manage) may make a kind longer than the tenant's, or unlimited.
    const longer = await server.request(
      `/v1/retention/dialogs/${dialogId}`,
      json({ callRecords: null, attachments: '90d' }, owner.accessToken, 'PUT'),
    );
    expect(longer.status, longer.text).toBe(200);
    expect(longer.json()).toEqual({
      dialogId,
      callRecords: null,
      attachments: '90d',
      effective: { messages: '30d', attachments: '90d', callRecords: null, searchEntries: null },
    });
    const cleared = await server.request(`/v1/retention/dialogs/${dialogId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    expect(cleared.json()).toEqual({
      dialogId,
      effective: { messages: '30d', attachments: '30d', callRecords: '30d', searchEntries: null },
    });
  });

  it('another tenant’s dialog is 404 on both routes, and nothing is stored for it', async () => {
    const other = await newTenantOwner(server, 'Other Override Clinic');
    const theirs = await newDialog('Theirs', other.accessToken);
    for (const [url, method] of [
      [`/v1/retention/dialogs/${theirs}`, 'PUT'],
      [`/v1/dialogs/${theirs}/retention`, 'PUT'],
    ] as const) {
      const refused = await server.request(url, json({ attachments: '1d' }, owner.accessToken, method));
      expect(refused.status, url).toBe(404);
      expect(codeOf(refused)).toBe('not_found');
    }
    const read = await server.request(`/v1/retention/dialogs/${theirs}`, {
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    expect(read.status).toBe(404);
    const rows = await server.app.storage.withTenant(other.tenantId, (tx) =>
      tx.selectFrom('retention_rules').select('dialog_id').where('dialog_id', '=', theirs).execute(),
    );
    expect(rows).toEqual([]);
  });

  it('sweeps each kind of a dialog by its own rule, leaves the other dialogs’ data, and a hold wins', async () => {
    const tenant = await newTenantOwner(server, 'Per Dialog Clinic');
    const tenantId = tenant.tenantId;
    const strict = await newDialog('Strict', tenant.accessToken);
    const plain = await newDialog('Plain', tenant.accessToken);
    const held = await newDialog('Held', tenant.accessToken);
    const send = async (dialogId: string, body: string) => {
      const sent = await server.request(
        `/v1/dialogs/${dialogId}/messages`,
        json({ clientId: `${body}-${Math.random()}`, body }, tenant.accessToken),
      );
      expect(sent.status, sent.text).toBe(201);
      return sent.json<{ id: string }>().id;
    };
    const messages = {
      strict: await send(strict, 'strict words'),
      plain: await send(plain, 'plain words'),
      held: await send(held, 'held words'),
    };
    // The tenant keeps everything 30 days; Strict and Held keep each kind a day or two.
    expect(
      (
        await server.request(
          '/v1/retention',
          json(
            { messages: '30d', attachments: '30d', callRecords: '30d', searchEntries: '30d' },
            tenant.accessToken,
            'PATCH',
          ),
        )
      ).status,
    ).toBe(200);
    for (const dialogId of [strict, held]) {
      const set = await server.request(
        `/v1/dialogs/${dialogId}/retention`,
        json(
          { messages: '2d', attachments: '2d', callRecords: '2d', searchEntries: '1d' },
          tenant.accessToken,
          'PUT',
        ),
      );
      expect(set.status, set.text).toBe(200);
    }
    expect(
      (
        await server.request(
          '/v1/legal-holds',
          json({ targetType: 'dialog', targetId: held, reason: 'Case 7' }, tenant.accessToken),
        )
      ).status,
    ).toBe(201);

    // A file and a call per dialog, and one file shared in both Strict and Plain (kept by Plain's rule).
    const at = clock.now();
    const files = { strict: crypto.randomUUID(), plain: crypto.randomUUID(), held: crypto.randomUUID() };
    const both = crypto.randomUUID();
    const calls = { strict: crypto.randomUUID(), plain: crypto.randomUUID(), held: crypto.randomUUID() };
    await server.app.storage.withTenant(tenantId, async (tx) => {
      for (const id of [...Object.values(files), both])
        await tx
          .insertInto('attachments')
          .values({
            id,
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
      const shares = [
        [files.strict, messages.strict, strict],
        [files.plain, messages.plain, plain],
        [files.held, messages.held, held],
        [both, messages.strict, strict],
        [both, messages.plain, plain],
      ] as const;
      for (const [attachmentId, messageId, dialogId] of shares)
        await tx
          .insertInto('attachment_shares')
          .values({
            tenant_id: tenantId,
            attachment_id: attachmentId,
            message_id: messageId,
            dialog_id: dialogId,
            position: 0,
          })
          .execute();
      for (const [name, dialogId] of [
        ['strict', strict],
        ['plain', plain],
        ['held', held],
      ] as const)
        await tx
          .insertInto('calls')
          .values({
            id: calls[name],
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
    });

    const state = () =>
      server.app.storage.withTenant(tenantId, async (tx) => ({
        search: (
          await tx
            .selectFrom('message_search')
            .select('message_id')
            .where('tenant_id', '=', tenantId)
            .execute()
        )
          .map((row) => row.message_id)
          .sort(),
        live: (
          await tx
            .selectFrom('messages')
            .select('id')
            .where('tenant_id', '=', tenantId)
            .where('deleted_at', 'is', null)
            .execute()
        )
          .map((row) => row.id)
          .sort(),
        files: (
          await tx
            .selectFrom('attachments')
            .select('id')
            .where('tenant_id', '=', tenantId)
            .where('status', '=', 'complete')
            .execute()
        )
          .map((row) => row.id)
          .sort(),
        calls: (await tx.selectFrom('calls').select('id').where('tenant_id', '=', tenantId).execute())
          .map((row) => row.id)
          .sort(),
      }));
    const sorted = (...ids: string[]) => [...ids].sort();
    const sweep = () => server.app.services.retentionSweeper.sweep({ tenantId });

    // Past Strict's search rule (a day) plus one sweep interval: only Strict's search entry goes.
    offset += DAY + RETENTION_SWEEP_INTERVAL_MS;
    const plan = await server.app.services.retentionSweeper.plan(tenantId);
    expect(plan.rules.find((rule) => rule.rule === 'searchEntries')).toEqual({
      rule: 'searchEntries',
      count: 1,
      held: 1,
    });
    await sweep();
    expect(await state()).toEqual({
      search: sorted(messages.plain, messages.held),
      live: sorted(...Object.values(messages)),
      files: sorted(...Object.values(files), both),
      calls: sorted(...Object.values(calls)),
    });

    // Past Strict's two-day rules: its message, its own file and its call go; the file it shares with Plain
    // stays (Plain keeps files 30 days), and the held dialog keeps everything.
    offset += DAY;
    await sweep();
    expect(await state()).toEqual({
      search: sorted(messages.plain, messages.held),
      live: sorted(messages.plain, messages.held),
      files: sorted(files.plain, files.held, both),
      calls: sorted(calls.plain, calls.held),
    });

    // Past the tenant's 30 days: Plain's data goes too, the shared file with it; the hold still wins.
    offset += 28 * DAY;
    await sweep();
    expect(await state()).toEqual({
      search: [messages.held],
      live: [messages.held],
      files: [files.held],
      calls: [calls.held],
    });
  });
});
