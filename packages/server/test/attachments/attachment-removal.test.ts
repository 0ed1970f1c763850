/**
 * Removing attachments: `DELETE /v1/attachments/{id}`, deleting the messages that shared one, and hiding a
 * message for oneself.
 *
 * Attacks tried: deleting someone else's attachment (a member who can read it, a tenant owner, another
 * tenant); keeping an attachment id after it was removed, after the only message sharing it was deleted for
 * everyone, or after hiding that message for oneself, and downloading it anyway; forwarding a removed
 * attachment, or one reachable only through a message one hid; reading the removed content or its key back
 * from the database rows.
 */
import { setImmediate } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAttachmentSharing } from '../../src/attachments/attachment-sharing.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newMember, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

interface User {
  userId: string;
  token: string;
}
type Summary = { id: string; removed: true } | { id: string; removed: false; name: string; size: number };

/** Three and a bit 64 KiB chunks of text. */
const content = `Lab results for ward 7. ${'0123456789abcdef'.repeat(13_000)}`;

describeEachDialect('removing attachments', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let bob: User;
  let carol: User;
  let dave: User;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Removal Clinic');
    const member = (name: string) => newMember(server, owner, `${name}@removal.example`);
    bob = await member('bob');
    carol = await member('carol');
    dave = await member('dave');
  });

  afterAll(async () => {
    await server.close();
  });

  const upload = async (token: string, name: string) => {
    const response = await server.request(`/v1/attachments?name=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
      body: content,
    });
    expect(response.status, response.text).toBe(201);
    return response.json<{ id: string }>().id;
  };
  const download = (token: string, id: string) => server.request(`/v1/attachments/${id}`, bearer(token));
  const removeAttachment = (token: string, id: string) =>
    server.request(`/v1/attachments/${id}`, bearer(token, 'DELETE'));
  const group = async (token: string, memberIds: string[]) => {
    const created = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Ward', memberIds }, token),
    );
    expect(created.status, created.text).toBe(201);
    return created.json<{ id: string }>().id;
  };
  const share = (token: string, dialogId: string, attachmentId: string, clientId: string) =>
    server.request(
      `/v1/dialogs/${dialogId}/messages`,
      json({ clientId, body: 'see attached', attachments: [attachmentId] }, token),
    );
  const shared = async (token: string, dialogId: string, attachmentId: string, clientId: string) => {
    const sent = await share(token, dialogId, attachmentId, clientId);
    expect(sent.status, sent.text).toBe(201);
    return sent.json<{ id: string }>().id;
  };
  const deleteMessage = async (
    token: string,
    dialogId: string,
    messageId: string,
    scope: 'everyone' | 'me',
  ) => {
    const deleted = await server.request(
      `/v1/dialogs/${dialogId}/messages/${messageId}?for=${scope}`,
      bearer(token, 'DELETE'),
    );
    expect(deleted.status, deleted.text).toBe(200);
  };
  const attachmentsShown = async (token: string, dialogId: string) => {
    const page = await server.request(`/v1/dialogs/${dialogId}/messages`, bearer(token));
    expect(page.status, page.text).toBe(200);
    return page.json<{ messages: { attachments: Summary[] }[] }>().messages.map((m) => m.attachments);
  };
  /** Every stored row of the attachment, in the three tables. */
  const rowsOf = async (id: string) => {
    const db = server.app.storage.kysely;
    return {
      attachment: await db.selectFrom('attachments').selectAll().where('id', '=', id).executeTakeFirst(),
      chunks: await db.selectFrom('attachment_chunks').selectAll().where('attachment_id', '=', id).execute(),
      shares: await db.selectFrom('attachment_shares').selectAll().where('attachment_id', '=', id).execute(),
    };
  };

  it('lets only the uploader remove it: a reader, a tenant owner and another tenant get 404 and change nothing', async () => {
    const id = await upload(bob.token, 'scan.txt');
    const dialogId = await group(bob.token, [carol.userId, owner.userId]);
    await shared(bob.token, dialogId, id, 'scan');
    const stranger = await newTenantOwner(server, 'Elsewhere Removal Ltd');
    for (const token of [carol.token, owner.accessToken, stranger.accessToken]) {
      expect((await removeAttachment(token, id)).status).toBe(404);
    }
    const stillThere = await download(carol.token, id);
    expect(stillThere.status).toBe(200);
    expect(stillThere.text).toBe(content);
  });

  it('removes it for everyone: content and key erased, every download 404, messages show it removed, again 404', async () => {
    const id = await upload(bob.token, 'lab-results.txt');
    const dialogId = await group(bob.token, [carol.userId]);
    await shared(bob.token, dialogId, id, 'lab');
    expect((await download(carol.token, id)).status).toBe(200);
    const before = await rowsOf(id);
    expect(before.chunks.length).toBe(4);

    const removed = await removeAttachment(bob.token, id);
    expect(removed.status, removed.text).toBe(204);

    // Carol kept the id; Bob uploaded it: neither can read it any more.
    expect((await download(carol.token, id)).status).toBe(404);
    expect((await download(bob.token, id)).status).toBe(404);
    expect(await attachmentsShown(carol.token, dialogId)).toEqual([[{ id, removed: true }]]);
    expect(await attachmentsShown(bob.token, dialogId)).toEqual([[{ id, removed: true }]]);
    // Nothing of the content, its key or its name stays in the live rows: only a tombstone for the message.
    const after = await rowsOf(id);
    expect(after.chunks).toEqual([]);
    expect(after.attachment).toMatchObject({ status: 'removed', name: '', content_key: '', size: 0 });
    const dump = JSON.stringify(after);
    expect(dump).not.toContain(before.attachment?.content_key);
    expect(dump).not.toContain(before.attachment?.name);
    // Removing again, or forwarding what was removed, answers as for an id that never existed.
    expect((await removeAttachment(bob.token, id)).status).toBe(404);
    const elsewhere = await group(carol.token, [dave.userId]);
    expect((await share(carol.token, elsewhere, id, 'forward-removed')).status).toBe(404);
    expect((await share(bob.token, dialogId, id, 'reshare-removed')).status).toBe(404);
  });

  it('leaves nothing of an attachment that no message shares', async () => {
    const id = await upload(carol.token, 'draft.txt');
    expect((await removeAttachment(carol.token, id)).status).toBe(204);
    expect(await rowsOf(id)).toEqual({ attachment: undefined, chunks: [], shares: [] });
    expect((await download(carol.token, id)).status).toBe(404);
  });

  it('erases an attachment when the last message sharing it is deleted for everyone: the member who kept the id gets 404', async () => {
    const id = await upload(bob.token, 'xray.txt');
    const dialogId = await group(bob.token, [carol.userId]);
    const messageId = await shared(bob.token, dialogId, id, 'xray');
    expect((await download(carol.token, id)).status).toBe(200);
    await deleteMessage(bob.token, dialogId, messageId, 'everyone');
    expect((await download(carol.token, id)).status).toBe(404);
    // The uploader too: a deleted message takes its files with it.
    expect((await download(bob.token, id)).status).toBe(404);
    expect(await rowsOf(id)).toEqual({ attachment: undefined, chunks: [], shares: [] });
  });

  it('keeps an attachment another message still shares, readable only through that message', async () => {
    const id = await upload(bob.token, 'plan.txt');
    const withCarol = await group(bob.token, [carol.userId]);
    const withDave = await group(bob.token, [dave.userId]);
    const first = await shared(bob.token, withCarol, id, 'plan-carol');
    const second = await shared(bob.token, withDave, id, 'plan-dave');
    await deleteMessage(bob.token, withCarol, first, 'everyone');
    expect((await download(carol.token, id)).status).toBe(404);
    expect((await download(dave.token, id)).status).toBe(200);
    expect((await download(bob.token, id)).status).toBe(200);
    await deleteMessage(bob.token, withDave, second, 'everyone');
    expect((await download(dave.token, id)).status).toBe(404);
    expect((await download(bob.token, id)).status).toBe(404);
    expect((await rowsOf(id)).chunks).toEqual([]);
  });

  it('erases the files of a dialog deleted for everyone, except one a live dialog still shares', async () => {
    const only = await upload(bob.token, 'ward-only.txt');
    const forwarded = await upload(bob.token, 'forwarded.txt');
    const ward = await group(bob.token, [carol.userId]);
    const elsewhere = await group(bob.token, [dave.userId]);
    await shared(bob.token, ward, only, 'ward-only');
    await shared(bob.token, ward, forwarded, 'ward-forwarded');
    await shared(bob.token, elsewhere, forwarded, 'elsewhere-forwarded');
    const deleted = await server.request(`/v1/dialogs/${ward}?mode=everyone`, bearer(bob.token, 'DELETE'));
    expect(deleted.status, deleted.text).toBe(204);
    // Carol kept both ids; the uploader has no other way to reach the first one either.
    for (const token of [carol.token, bob.token]) expect((await download(token, only)).status).toBe(404);
    expect(await rowsOf(only)).toEqual({ attachment: undefined, chunks: [], shares: [] });
    expect((await download(carol.token, forwarded)).status).toBe(404);
    const stillShared = await download(dave.token, forwarded);
    expect(stillShared.status).toBe(200);
    expect(stillShared.text).toBe(content);
  });

  it('erases an attachment when the two messages sharing it are deleted at the same moment', async () => {
    const id = await upload(bob.token, 'twice.txt');
    const withCarol = await group(bob.token, [carol.userId]);
    const withDave = await group(bob.token, [dave.userId]);
    const first = await shared(bob.token, withCarol, id, 'twice-carol');
    const second = await shared(bob.token, withDave, id, 'twice-dave');
    // Each deletion alone sees the other message still live; only taking turns on the attachment erases it.
    await Promise.all([
      deleteMessage(bob.token, withCarol, first, 'everyone'),
      deleteMessage(bob.token, withDave, second, 'everyone'),
    ]);
    expect(await rowsOf(id)).toEqual({ attachment: undefined, chunks: [], shares: [] });
    expect((await download(bob.token, id)).status).toBe(404);
  });

  if (dialect === 'postgres') {
    it('attack: forwarding an attachment while its last message is deleted for everyone answers 404, never a 500 or its content', async () => {
      // Carol forwards the file at the very moment Bob deletes the only message that shares it. The
      // deletion (held open here, exactly as the message service runs it) has erased the attachment but not
      // committed yet; Carol's send must wait for it and then find nothing to share.
      const id = await upload(bob.token, 'race.txt');
      const ward = await group(bob.token, [carol.userId]);
      const messageId = await shared(bob.token, ward, id, 'race');
      const elsewhere = await group(carol.token, [dave.userId]);
      const { storage } = server.app;
      const sharing = createAttachmentSharing({ fieldCipher: server.app.security.fieldCipher, dialect });
      let forward: Promise<{ status: number }> = Promise.resolve({ status: 0 });
      await storage.withTenant(owner.tenantId, async (tx) => {
        await tx
          .updateTable('messages')
          .set({ body: null, deleted_at: Date.now() })
          .where('tenant_id', '=', owner.tenantId)
          .where('id', '=', messageId)
          .execute();
        await sharing.release(tx, owner.tenantId, messageId);
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx);
        forward = share(carol.token, elsewhere, id, 'forward-racing');
        await waitUntilBlockedBy(rows[0]?.pid ?? 0);
      });
      const answer = await forward;
      expect(answer.status).toBe(404);
      expect(await rowsOf(id)).toEqual({ attachment: undefined, chunks: [], shares: [] });
      expect(await attachmentsShown(dave.token, elsewhere)).toEqual([]);
    });
  }

  /** Resolves once another PostgreSQL backend waits for a lock the backend `pid` holds. */
  const waitUntilBlockedBy = async (pid: number) => {
    const db = server.app.storage.kysely;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const { rows } = await sql<{ waiting: number }>`
        select count(*)::int as waiting from pg_stat_activity where ${pid} = any(pg_blocking_pids(pid))`.execute(
        db,
      );
      if ((rows[0]?.waiting ?? 0) > 0) return;
      await setImmediate();
    }
    throw new Error('the concurrent request never waited for the deletion');
  };

  it('takes away a member’s download through a message they hid for themselves, not through one they still see', async () => {
    const id = await upload(bob.token, 'rota.txt');
    const ward = await group(bob.token, [carol.userId, dave.userId]);
    const messageId = await shared(bob.token, ward, id, 'rota');
    expect((await download(carol.token, id)).status).toBe(200);
    await deleteMessage(carol.token, ward, messageId, 'me');
    // Carol kept the id: hidden from her, so is the file — and she cannot forward it either.
    expect((await download(carol.token, id)).status).toBe(404);
    const hers = await group(carol.token, [dave.userId]);
    expect((await share(carol.token, hers, id, 'forward-hidden')).status).toBe(404);
    // The others still see the message, and so the file.
    expect((await download(dave.token, id)).status).toBe(200);
    expect((await download(bob.token, id)).status).toBe(200);
    // Shared with her again in another dialog: readable through that message.
    const again = await group(bob.token, [carol.userId]);
    await shared(bob.token, again, id, 'rota-again');
    expect((await download(carol.token, id)).status).toBe(200);
  });

  it('documents DELETE /v1/attachments/{attachmentId} and the removed shape in /openapi.json', async () => {
    const document = (await server.request('/openapi.json')).json<{
      paths: Record<string, Record<string, { summary?: string }>>;
      components: { schemas: Record<string, unknown> };
    }>();
    expect(document.paths['/v1/attachments/{attachmentId}']?.delete?.summary).toMatch(/Remove an attachment/);
    // A message's attachments are the named AttachmentSummary, whose removed form is `{ id, removed: true }`.
    expect(JSON.stringify(document.components.schemas.Message)).toContain('AttachmentSummary');
    expect(JSON.stringify(document.components.schemas.AttachmentSummary)).toContain('"removed"');
  });
});
