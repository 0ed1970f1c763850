import { sql } from 'kysely';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RESUME_HORIZON_MS } from '../../../src/compliance/retention/retention-rules.ts';
import { RETENTION_SWEEP_INTERVAL_MS } from '../../../src/compliance/retention/retention-sweeper.ts';
import type { Storage } from '../../../src/storage/database.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import {
  json,
  memberPassword,
  newMember,
  newTenantOwner,
  ownerPassword,
  signIn,
} from '../../support/identity-fixtures.ts';
import { type Frame, openSocket, Socket } from '../../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';

/**
 * An expired message leaves no row behind (issue 14, point 2): the sweeper first turns it into a tombstone with
 * a sequenced `deleted` event (clients online see it live, clients resuming within the resume horizon replay
 * it), then, past the horizon, deletes the tombstone and every row keyed by the message, and marks how far the
 * dialog's stream was pruned. Attack tried: a client resuming from a position before the pruned deletion — it
 * must be told to resync, never be handed the rest of the stream with the deletion silently missing. A legal
 * hold keeps all of it.
 */
const DAY = 86_400_000;

/** Every table of the schema with a `message_id` column, read from the database itself. */
async function tablesWithMessageId(storage: Storage): Promise<string[]> {
  const rows =
    storage.dialect === 'sqlite'
      ? await sql<{ name: string }>`
          select m.name as name from sqlite_schema m join pragma_table_info(m.name) c
          where m.type = 'table' and c.name = 'message_id'`.execute(storage.kysely)
      : await sql<{ name: string }>`
          select table_name as name from information_schema.columns
          where table_schema = current_schema() and column_name = 'message_id'`.execute(storage.kysely);
  return rows.rows.map((row) => row.name).sort();
}

describeEachDialect('retention: tombstones past the resume horizon', (dialect) => {
  let server: TestServer;
  let offset = 0;
  const clock = { now: () => Date.now() + offset };
  const sockets: Socket[] = [];

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.ws.close();
  });

  afterAll(async () => {
    await server.close();
  });

  /** A socket that resumes `dialogId` from `seq` in its `auth` frame, as the SDK does after a reconnect. */
  async function resumed(token: string, dialogId: string, seq: number, epoch: string): Promise<Socket> {
    const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
    await once(ws, 'open');
    const socket = new Socket(ws);
    sockets.push(socket);
    socket.send({ type: 'auth', token, positions: { [dialogId]: { seq, epoch } } });
    await socket.next((frame) => frame.type === 'ready');
    return socket;
  }

  /** Everything the server sent before answering a ping sent now (frames are handled in order). */
  async function settled(socket: Socket): Promise<Frame[]> {
    const pongs = socket.frames.filter((frame) => frame.type === 'pong').length;
    socket.send({ type: 'ping' });
    await socket.next(
      (frame) => frame.type === 'pong' && socket.frames.filter((f) => f.type === 'pong').length > pongs,
    );
    return socket.frames;
  }

  it('deletes every row of an expired message past rule + horizon + one interval; online clients saw the deletion, a stale resume gets a resync', async () => {
    const tenant = await newTenantOwner(server, 'Horizon Clinic');
    const tenantId = tenant.tenantId;
    const memberEmail = `horizon-${Date.now()}@retention.example`;
    const member = await newMember(server, tenant, memberEmail);
    // Tokens signed for the moved clock (access tokens expire long before a day passes).
    const ownerToken = async () =>
      (await signIn(server, tenantId, tenant.email, ownerPassword, 'profile chat')).accessToken;
    const memberToken = async () =>
      (await signIn(server, tenantId, memberEmail, memberPassword, 'profile chat')).accessToken;
    const newDialog = async (name: string) =>
      (
        await server.request(
          '/v1/dialogs',
          json({ type: 'group', name, memberIds: [member.userId] }, tenant.accessToken),
        )
      ).json<{ id: string }>().id;
    const dialogId = await newDialog('Expiring');
    const heldDialog = await newDialog('Held');
    const send = async (id: string, body: string) => {
      const sent = await server.request(
        `/v1/dialogs/${id}/messages`,
        json({ clientId: `${body}-${Math.random()}`, body }, tenant.accessToken),
      );
      expect(sent.status, sent.text).toBe(201);
      return sent.json<{ id: string; seq: number }>();
    };
    const expiring = await send(dialogId, 'expiring words');
    const kept = await send(heldDialog, 'kept words');
    for (const [id, message] of [
      [dialogId, expiring],
      [heldDialog, kept],
    ] as const) {
      const reacted = await server.request(
        `/v1/dialogs/${id}/messages/${message.id}/reactions/${encodeURIComponent('👍')}`,
        json({}, tenant.accessToken, 'PUT'),
      );
      expect(reacted.status, reacted.text).toBeLessThan(300);
    }
    // A file shared by the message and the member's "deleted for me": rows keyed by the message.
    const fileId = crypto.randomUUID();
    const at = clock.now();
    await server.app.storage.withTenant(tenantId, async (tx) => {
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
        .insertInto('attachment_shares')
        .values({
          tenant_id: tenantId,
          attachment_id: fileId,
          message_id: expiring.id,
          dialog_id: dialogId,
          position: 0,
        })
        .execute();
      await tx
        .insertInto('hidden_messages')
        .values({ tenant_id: tenantId, message_id: expiring.id, user_id: member.userId })
        .execute();
    });
    expect(
      (await server.request('/v1/retention', json({ messages: '1d' }, tenant.accessToken, 'PATCH'))).status,
    ).toBe(200);
    expect(
      (
        await server.request(
          '/v1/legal-holds',
          json({ targetType: 'dialog', targetId: heldDialog, reason: 'Case 21' }, tenant.accessToken),
        )
      ).status,
    ).toBe(201);

    // The owner stays online, following the dialog from after the reaction; the member's device goes offline
    // having seen the message (its position: the message's seq).
    const online = await openSocket(server, tenant.accessToken);
    sockets.push(online);
    const epoch = online.frames[0]?.epoch as string;
    const afterReaction = await lastSeq(dialogId, tenantId);
    online.send({ type: 'resume', positions: { [dialogId]: { seq: afterReaction, epoch } } });
    await settled(online);
    const stale = expiring.seq;

    // Past the rule plus one sweep interval: the message becomes a tombstone with a sequenced deletion.
    offset += DAY + RETENTION_SWEEP_INTERVAL_MS;
    await server.app.services.retentionSweeper.sweep({ tenantId });
    const deleted = await online.next(
      (frame) => frame.type === 'message.deleted' && frame.messageId === expiring.id,
    );
    expect(deleted.seq).toBe(afterReaction + 1);
    expect(deleted.dialogId).toBe(dialogId);

    // Within the horizon, a resume from before the deletion replays it.
    const early = await resumed(await ownerToken(), dialogId, stale, epoch);
    await early.next((frame) => frame.type === 'message.deleted' && frame.messageId === expiring.id);
    expect((await settled(early)).filter((frame) => frame.type === 'resync')).toEqual([]);
    early.ws.close();

    // Past the rule, the horizon and one sweep interval: nothing of the message is left anywhere.
    offset += RESUME_HORIZON_MS + RETENTION_SWEEP_INTERVAL_MS;
    await server.app.services.retentionSweeper.sweep({ tenantId });
    const tables = await tablesWithMessageId(server.app.storage);
    expect(tables).toEqual(expect.arrayContaining(['dialog_events', 'message_reactions', 'message_search']));
    const rowsOf = (messageId: string) =>
      server.app.storage.withTenant(tenantId, async (tx) => {
        const counts: Record<string, number> = {};
        for (const table of tables) {
          const result = await sql<{ n: number | string }>`
            select count(*) as n from ${sql.table(table)} where message_id = ${messageId}`.execute(tx);
          counts[table] = Number(result.rows[0]?.n ?? 0);
        }
        const messages = await tx.selectFrom('messages').select('id').where('id', '=', messageId).execute();
        counts.messages = messages.length;
        return counts;
      });
    const none = Object.fromEntries([...tables, 'messages'].map((table) => [table, 0]));
    expect(await rowsOf(expiring.id)).toEqual(none);
    expect(
      await server.app.storage.withTenant(tenantId, (tx) =>
        tx.selectFrom('attachments').select('id').where('id', '=', fileId).execute(),
      ),
    ).toEqual([]);
    // The held dialog's message keeps its text, reaction, event and search entry.
    const heldRows = await rowsOf(kept.id);
    expect(heldRows).toMatchObject({
      messages: 1,
      message_reactions: 1,
      dialog_events: 1,
      message_search: 1,
    });

    // A client resuming from before the pruned deletion is told to resync, and is sent nothing of the dialog.
    const late = await resumed(await memberToken(), dialogId, stale, epoch);
    const resync = await late.next((frame) => frame.type === 'resync');
    expect(resync).toEqual({ type: 'resync', dialogId, reason: 'too_far_behind' });
    expect(
      (await settled(late)).filter((frame) => frame.dialogId === dialogId && frame.type !== 'resync'),
    ).toEqual([]);
    // One that had seen the deletion resumes as before, with later changes and no resync.
    const next = await server.app.services.messages.send(tenantId, tenant.userId, dialogId, {
      clientId: 'after-the-horizon',
      body: 'after the horizon',
      mentions: [],
      attachments: [],
    });
    const current = await resumed(await ownerToken(), dialogId, deleted.seq as number, epoch);
    const replayed = await current.next((frame) => frame.type === 'message.new');
    expect(replayed.seq).toBe(next.message.seq);
    expect((await settled(current)).filter((frame) => frame.type === 'resync')).toEqual([]);

    const receipts = await server.app.storage.withTenant(tenantId, (tx) =>
      tx
        .selectFrom('audit_log')
        .select('details')
        .where('tenant_id', '=', tenantId)
        .where('action', '=', 'retention.sweep_receipt')
        .orderBy('seq')
        .execute(),
    );
    const last = JSON.parse(receipts.at(-1)?.details ?? '{}') as { rules: Record<string, { count: number }> };
    expect(last.rules.messageTombstones).toMatchObject({ count: 1, rule: '1d' });
    expect((await server.app.services.audit.verify(server.app.storage, tenantId)).ok).toBe(true);
  });

  async function lastSeq(dialogId: string, tenantId: string) {
    const row = await server.app.storage.withTenant(tenantId, (tx) =>
      tx.selectFrom('dialogs').select('last_seq').where('id', '=', dialogId).executeTakeFirstOrThrow(),
    );
    return row.last_seq;
  }
});
