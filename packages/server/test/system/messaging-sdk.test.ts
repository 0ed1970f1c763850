import { randomBytes } from 'node:crypto';
import { ParleyApiError, ParleyClient } from '@parley/client';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { json, memberPassword, ownerPassword } from '../support/identity-fixtures.ts';
import {
  acceptOwedConsents,
  type ChatTenant,
  newChatTenant,
  trustingFetch,
  trustingWebSocket,
} from '../support/sdk-clients.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * The SDK's typed messaging REST clients (dialogs, messages, search, attachments, presence, blocks, call
 * records) against a real server: every method once, with what an app relies on — pages that join up in
 * both directions, bytes that come back identical, errors that arrive as `ParleyApiError` with the server's
 * code and request id. Attacks tried: reading another user's (or another tenant's) dialog through the SDK; an
 * id or emoji crafted to escape its path segment (`../me`, `..`, `:tada:`, a skin-tone emoji) so the request
 * reaches another route; an upload retried after a token refresh sending a half-read stream.
 */

/** A clock the last test moves past the access token's lifetime. */
class MovableClock implements Clock {
  #now = Date.now();
  now(): number {
    return this.#now;
  }
  advanceSeconds(seconds: number): void {
    this.#now += seconds * 1000;
  }
}

const ACCESS_TOKEN_TTL_SECONDS = 300;

interface Credentials {
  userId: string;
  email: string;
  password: string;
}

/** What a failed SDK call threw, for assertions on its code and status. */
async function failure(promise: Promise<unknown>): Promise<ParleyApiError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof ParleyApiError)) throw new Error(`expected a ParleyApiError, got ${String(error)}`);
  return error;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** A stream that hands out `bytes` in small pieces, as a file read from disk would arrive. */
function streamOf(bytes: Uint8Array, pieceSize = 4096): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + pieceSize));
      offset += pieceSize;
    },
  });
}

describeEachDialect('the messaging REST clients of the SDK against a real server', (dialect) => {
  const clock = new MovableClock();
  let server: TestServer;
  let tenantCount = 0;
  const clients: ParleyClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.realtime.close();
  });

  afterAll(async () => {
    await server.close();
  });

  const tenant = () => newChatTenant(server, `Messaging SDK ${++tenantCount}`, ACCESS_TOKEN_TTL_SECONDS);

  const alice = (chat: ChatTenant): Credentials => ({ ...chat.owner, password: ownerPassword });

  /** Another member of the tenant, created by its owner. */
  async function newUser(chat: ChatTenant, name: string): Promise<Credentials> {
    const email = `${name}-${chat.owner.tenantId.slice(-6)}@sdk.example`;
    const created = await server.request(
      '/v1/users',
      json({ displayName: name, email, password: memberPassword, roles: ['member'] }, chat.owner.accessToken),
    );
    expect(created.status, created.text).toBe(201);
    return { userId: created.json<{ userId: string }>().userId, email, password: memberPassword };
  }

  /** An SDK client signed in (refresh token kept) with the scopes an app for chat and calls asks for. */
  async function sdk(
    chat: ChatTenant,
    who: Credentials,
    scope = 'profile chat calls',
  ): Promise<ParleyClient> {
    const client = new ParleyClient({
      baseUrl: server.url,
      fetch: trustingFetch(server.ca).fetch,
      realtime: { WebSocket: trustingWebSocket(server.ca) },
    });
    clients.push(client);
    const signedIn = await client.auth.signIn({
      tenantId: chat.owner.tenantId,
      username: who.email,
      password: who.password,
      scope,
    });
    expect(signedIn.mfaRequired).toBe(false);
    // Users made by the owner accept the required purposes at their first sign-in, as an app would ask them to.
    if (!signedIn.mfaRequired && signedIn.notice === 'consent_required') await acceptOwedConsents(client);
    return client;
  }

  it('dialogs: created through the SDK, listed page by page and by the iterator, read, changed, muted, pinned and removed in each mode', async () => {
    const chat = await tenant();
    const carol = await newUser(chat, 'carol');
    const a = await sdk(chat, alice(chat));
    const b = await sdk(chat, chat.bob);
    const c = await sdk(chat, carol);

    const group = await a.dialogs.create({ type: 'group', name: 'Ward 7', memberIds: [chat.bob.userId] });
    expect(group).toMatchObject({ type: 'group', name: 'Ward 7', myRole: 'owner', lastSeq: 0 });
    expect(new Set(group.memberIds)).toEqual(new Set([chat.owner.userId, chat.bob.userId]));
    const direct = await a.dialogs.create({ type: 'private', memberIds: [chat.bob.userId] });
    // A second private dialog with the same person answers the first.
    expect((await a.dialogs.create({ type: 'private', memberIds: [chat.bob.userId] })).id).toBe(direct.id);
    const third = await a.dialogs.create({ type: 'group', name: 'Night shift' });

    const ids = [group.id, direct.id, third.id];
    const firstPage = await a.dialogs.list({ limit: 2 });
    expect(firstPage.dialogs).toHaveLength(2);
    expect(firstPage.nextCursor).toEqual(expect.any(String));
    const secondPage = await a.dialogs.list({ limit: 2, cursor: firstPage.nextCursor });
    expect(secondPage.nextCursor).toBeUndefined();
    const paged = [...firstPage.dialogs, ...secondPage.dialogs].map((dialog) => dialog.id);
    expect([...paged].sort()).toEqual([...ids].sort());
    expect((await collect(a.dialogs.all({ limit: 1 }))).map((dialog) => dialog.id)).toEqual(paged);
    // Bob sees the two dialogs he is in, not Alice's own group.
    expect((await collect(b.dialogs.all())).map((dialog) => dialog.id).sort()).toEqual(
      [group.id, direct.id].sort(),
    );

    expect(await b.dialogs.get(group.id)).toMatchObject({ id: group.id, myRole: 'member' });
    const renamed = await a.dialogs.update(group.id, { name: 'Ward 7 (east)', description: 'Day team' });
    expect(renamed).toMatchObject({ name: 'Ward 7 (east)', description: 'Day team' });
    expect((await a.dialogs.update(group.id, { description: null })).description).toBeNull();
    expect(await failure(b.dialogs.update(group.id, { name: 'Mine now' }))).toMatchObject({
      status: 403,
      code: 'forbidden',
    });
    // Mute and pin are each member's own.
    expect(await b.dialogs.mute(group.id)).toMatchObject({ muted: true, pinned: false });
    expect(await b.dialogs.pin(group.id)).toMatchObject({ muted: true, pinned: true });
    expect(await a.dialogs.get(group.id)).toMatchObject({ muted: false, pinned: false });
    expect(await b.dialogs.mute(group.id, false)).toMatchObject({ muted: false, pinned: true });

    // Another user's dialog, and another tenant's, are a 404 with the server's code and request id.
    const hidden = await failure(c.dialogs.get(third.id));
    expect(hidden).toMatchObject({ status: 404, code: 'not_found', requestId: expect.any(String) });
    const stranger = await tenant();
    const elsewhere = await sdk(stranger, alice(stranger));
    expect(await failure(elsewhere.dialogs.get(group.id))).toMatchObject({ status: 404, code: 'not_found' });

    // Leave: Bob goes, Alice stays. Clear: the history goes for Carol only. Everyone: the owner deletes it.
    await b.dialogs.leave(group.id);
    expect(await failure(b.dialogs.get(group.id))).toMatchObject({ code: 'not_found' });
    expect((await a.dialogs.get(group.id)).memberIds).toEqual([chat.owner.userId]);
    const shared = await a.dialogs.create({ type: 'group', name: 'Shared', memberIds: [carol.userId] });
    await a.messages.send(shared.id, { body: 'before the clear' });
    await c.dialogs.clearHistory(shared.id);
    expect((await c.messages.history(shared.id)).messages).toEqual([]);
    expect((await a.messages.history(shared.id)).messages.map((message) => message.body)).toEqual([
      'before the clear',
    ]);
    expect((await c.dialogs.get(shared.id)).memberIds).toContain(carol.userId);
    expect(await failure(c.dialogs.deleteForEveryone(shared.id))).toMatchObject({ status: 403 });
    await a.dialogs.deleteForEveryone(shared.id);
    expect(await failure(a.dialogs.get(shared.id))).toMatchObject({ code: 'not_found' });
    expect(await failure(c.dialogs.get(shared.id))).toMatchObject({ code: 'not_found' });
    await a.dialogs.remove(third.id, 'everyone');
    expect((await collect(a.dialogs.all())).map((dialog) => dialog.id).sort()).toEqual(
      [group.id, direct.id].sort(),
    );
  });

  it('members: added, made admin and back, removed; a public dialog is joined', async () => {
    const chat = await tenant();
    const carol = await newUser(chat, 'carol');
    const a = await sdk(chat, alice(chat));
    const c = await sdk(chat, carol);
    const dialogId = await chat.newDialog('Rota');

    expect(await failure(c.dialogs.get(dialogId))).toMatchObject({ code: 'not_found' });
    expect((await a.dialogs.addMembers(dialogId, [carol.userId])).memberIds).toContain(carol.userId);
    expect((await c.dialogs.get(dialogId)).myRole).toBe('member');
    await a.dialogs.setRole(dialogId, carol.userId, 'admin');
    expect((await c.dialogs.get(dialogId)).myRole).toBe('admin');
    // As an admin Carol may rename the dialog; as a member again she may not.
    expect((await c.dialogs.update(dialogId, { name: 'Rota (admins)' })).name).toBe('Rota (admins)');
    await a.dialogs.setRole(dialogId, carol.userId, 'member');
    expect(await failure(c.dialogs.update(dialogId, { name: 'Nope' }))).toMatchObject({ code: 'forbidden' });
    await a.dialogs.removeMember(dialogId, carol.userId);
    expect(await failure(c.dialogs.get(dialogId))).toMatchObject({ code: 'not_found' });

    const lobby = await a.dialogs.create({ type: 'public', name: 'Lobby' });
    const joined = await c.dialogs.join(lobby.id);
    expect(joined).toMatchObject({ id: lobby.id, myRole: 'member' });
    expect(joined.memberIds).toContain(carol.userId);
  });

  it('messages: history pages join up going back and going forward, around a message and from a date', async () => {
    const chat = await tenant();
    const a = await sdk(chat, alice(chat));
    const dialogId = await chat.newDialog('History');
    const sent = [];
    for (let n = 1; n <= 5; n++) sent.push(await a.messages.send(dialogId, { body: `note ${n}` }));
    expect(sent.map((message) => message.seq)).toEqual([1, 2, 3, 4, 5]);
    const seqs = (page: { messages: { seq: number }[] }) => page.messages.map((message) => message.seq);

    const newest = await a.messages.history(dialogId, { limit: 2 });
    expect(seqs(newest)).toEqual([4, 5]);
    expect(newest).toMatchObject({ oldestSeq: 4, newestSeq: 5 });
    expect(seqs(await a.messages.history(dialogId, { before: 4, limit: 2 }))).toEqual([2, 3]);
    expect(seqs(await a.messages.history(dialogId, { after: 2, limit: 2 }))).toEqual([3, 4]);
    expect(seqs(await a.messages.history(dialogId, { after: 1, before: 5 }))).toEqual([2, 3, 4]);
    const around = await a.messages.history(dialogId, { around: sent[2]?.id ?? '', limit: 3 });
    expect(seqs(around)).toEqual([2, 3, 4]);
    const fromTheStart = await a.messages.history(dialogId, {
      at: new Date(Date.now() - 3_600_000),
      limit: 2,
    });
    expect(seqs(fromTheStart)).toEqual([1, 2]);

    expect((await collect(a.messages.older(dialogId, { limit: 2 }))).map(seqs)).toEqual([
      [4, 5],
      [2, 3],
      [1],
    ]);
    expect((await collect(a.messages.older(dialogId, { before: 3, limit: 5 }))).map(seqs)).toEqual([[1, 2]]);
    expect((await collect(a.messages.newer(dialogId, { after: 0, limit: 2 }))).map(seqs)).toEqual([
      [1, 2],
      [3, 4],
      [5],
    ]);
    expect(await collect(a.messages.newer(dialogId, { after: 5 }))).toEqual([]);
    // A refused query comes back as the server's validation error, not as an empty page.
    expect(await failure(a.messages.history(dialogId, { limit: 500 }))).toMatchObject({ status: 400 });
  });

  it('messages: a retried send with its clientId is one message; edit, delete for me and for everyone, reactions with emoji and shortcodes', async () => {
    const chat = await tenant();
    const a = await sdk(chat, alice(chat));
    const b = await sdk(chat, chat.bob);
    const dialogId = await chat.newDialog('Changes');

    const first = await a.messages.send(dialogId, { clientId: 'draft-1', body: 'Rounds at nine' });
    const retry = await a.messages.send(dialogId, { clientId: 'draft-1', body: 'Rounds at nine' });
    expect(retry).toMatchObject({ id: first.id, seq: first.seq, clientId: 'draft-1' });
    const generated = await a.messages.send(dialogId, { body: 'an SDK-chosen client id' });
    expect(generated.clientId).toMatch(/^[0-9a-f-]{36}$/);
    const second = await b.messages.send(dialogId, { body: 'Noted', replyTo: first.id });
    expect(second).toMatchObject({ replyTo: first.id, senderId: chat.bob.userId });

    const edited = await a.messages.edit(dialogId, first.id, 'Rounds at ten');
    expect(edited.seq).toEqual(expect.any(Number));
    expect(edited.message).toMatchObject({
      id: first.id,
      body: 'Rounds at ten',
      editedAt: expect.any(String),
    });
    expect(await failure(b.messages.edit(dialogId, first.id, 'Rounds at noon'))).toMatchObject({
      status: 403,
    });

    for (const emoji of ['👍🏽', ':tada:']) {
      const added = await b.messages.react(dialogId, first.id, emoji);
      expect(added.message.reactions).toContainEqual({ emoji, userIds: [chat.bob.userId] });
    }
    const again = await b.messages.react(dialogId, first.id, ':tada:');
    expect(again.seq).toBeNull();
    const removed = await b.messages.unreact(dialogId, first.id, '👍🏽');
    expect(removed.message.reactions).toEqual([{ emoji: ':tada:', userIds: [chat.bob.userId] }]);

    const hiddenForBob = await b.messages.delete(dialogId, generated.id);
    expect(hiddenForBob.seq).toBeNull();
    const bodiesOf = async (client: ParleyClient) =>
      (await client.messages.history(dialogId)).messages.map((message) => message.body);
    expect(await bodiesOf(b)).toEqual(['Rounds at ten', 'Noted']);
    expect(await bodiesOf(a)).toEqual(['Rounds at ten', 'an SDK-chosen client id', 'Noted']);
    // A plain member deletes only his own messages for everyone.
    expect(await failure(b.messages.delete(dialogId, first.id, 'everyone'))).toMatchObject({
      status: 403,
    });
    const gone = await b.messages.delete(dialogId, second.id, 'everyone');
    expect(gone.message).toMatchObject({ id: second.id, deleted: true, body: null });
    const atAlice = (await a.messages.history(dialogId)).messages.find((message) => message.id === second.id);
    expect(atAlice).toMatchObject({ deleted: true, body: null });
  });

  it('receipts: delivered and read positions are stored per member and listed', async () => {
    const chat = await tenant();
    const a = await sdk(chat, alice(chat));
    const b = await sdk(chat, chat.bob);
    const dialogId = await chat.newDialog('Receipts');
    for (let n = 1; n <= 4; n++) await a.messages.send(dialogId, { body: `dose ${n}` });
    await b.messages.markDelivered(dialogId, 4);
    await b.messages.markRead(dialogId, 2);
    expect(await b.dialogs.get(dialogId)).toMatchObject({ unreadCount: 2 });
    const receipts = await a.messages.receipts(dialogId);
    expect(receipts).toContainEqual({ userId: chat.bob.userId, deliveredSeq: 4, readSeq: 2 });
  });

  it('search: finds a message by its edited words and no longer by the old ones, one dialog or all, page by page', async () => {
    const chat = await tenant();
    const a = await sdk(chat, alice(chat));
    const b = await sdk(chat, chat.bob);
    const dialogId = await chat.newDialog('Search');
    const other = await chat.newDialog('Search elsewhere');
    const message = await a.messages.send(dialogId, { body: 'Order more saline tomorrow' });
    await a.messages.edit(dialogId, message.id, 'Order more gauze tomorrow');
    await a.messages.send(other, { body: 'gauze for ward two' });
    await a.messages.send(other, { body: 'gauze for ward three' });

    const found = await b.search.messages({ q: 'gauze', dialogId });
    expect(found.results).toHaveLength(1);
    expect(found.results[0]).toMatchObject({ dialogId, message: { id: message.id } });
    const highlight = found.results[0]?.highlights[0];
    expect(found.results[0]?.snippet.slice(highlight?.start, highlight?.end).toLowerCase()).toBe('gauze');
    expect((await b.search.messages({ q: 'saline' })).results).toEqual([]);

    const firstPage = await b.search.messages({ q: 'gauze', limit: 2 });
    expect(firstPage.results).toHaveLength(2);
    expect(firstPage.nextCursor).toEqual(expect.any(String));
    const everything = await collect(b.search.allMessages({ q: 'gauze', limit: 1 }));
    expect(everything).toHaveLength(3);
    expect(new Set(everything.map((result) => result.message.id)).size).toBe(3);

    // Someone who is in neither dialog finds nothing.
    const carol = await sdk(chat, await newUser(chat, 'carol'));
    expect((await carol.search.messages({ q: 'gauze' })).results).toEqual([]);
  });

  it('attachments: bytes, a Blob and a stream upload; a download is byte-identical, a range is exactly those bytes, a removed file is a 404', async () => {
    const chat = await tenant();
    const a = await sdk(chat, alice(chat));
    const b = await sdk(chat, chat.bob);
    const dialogId = await chat.newDialog('Files');
    const content = new Uint8Array(randomBytes(200_000));

    const upload = await a.attachments.upload(content, { name: 'scan 2024 — résumé.bin' });
    expect(upload).toMatchObject({ name: 'scan 2024 — résumé.bin', size: content.length });
    const whole = await a.attachments.download(upload.id);
    expect(whole).toMatchObject({ name: 'scan 2024 — résumé.bin', size: content.length, range: undefined });
    expect(Buffer.from(await whole.bytes()).equals(content)).toBe(true);

    const part = await a.attachments.download(upload.id, { range: { start: 1000, end: 1999 } });
    expect(part.response.status).toBe(206);
    expect(part).toMatchObject({ range: { start: 1000, end: 1999 }, size: content.length });
    expect(Buffer.from(await part.bytes()).equals(content.subarray(1000, 2000))).toBe(true);
    const tail = await a.attachments.download(upload.id, { range: { last: 10 } });
    expect(Buffer.from(await tail.bytes()).equals(content.subarray(-10))).toBe(true);
    const rest = await a.attachments.download(upload.id, { range: { start: 199_990 }, ifRange: whole.etag });
    expect(Buffer.from(await rest.bytes()).equals(content.subarray(199_990))).toBe(true);
    expect(await failure(a.attachments.download(upload.id, { range: { start: 200_000 } }))).toMatchObject({
      status: 416,
      code: 'range_not_satisfiable',
    });

    // Streamed from the body, piece by piece, as a large file would be.
    const streamed = await a.attachments.upload(streamOf(content), { name: 'streamed.bin' });
    expect(streamed.size).toBe(content.length);
    const chunks: Uint8Array[] = [];
    for await (const chunk of (await a.attachments.download(streamed.id)).body) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(content)).toBe(true);

    // A File brings its own name and declared type; the served type is still sniffed from the bytes.
    const file = new File(['plain words\n'], 'notes.txt', { type: 'text/plain' });
    const fromFile = await a.attachments.upload(file);
    expect(fromFile).toMatchObject({ name: 'notes.txt', size: 12 });
    expect((await a.attachments.download(fromFile.id)).contentType).toMatch(/^text\/plain/);
    await expect(a.attachments.upload(new Uint8Array([1]))).rejects.toBeInstanceOf(TypeError);

    // Bob may download what a message shares with him, not what was never shared.
    expect(await failure(b.attachments.download(upload.id))).toMatchObject({
      status: 404,
      code: 'not_found',
    });
    await a.messages.send(dialogId, { body: '', attachments: [upload.id] });
    expect(Buffer.from(await (await b.attachments.download(upload.id)).bytes()).equals(content)).toBe(true);
    expect(await failure(b.attachments.remove(upload.id))).toMatchObject({ code: 'not_found' });

    await a.attachments.remove(upload.id);
    for (const client of [a, b]) {
      const refused = await failure(client.attachments.download(upload.id));
      expect(refused).toMatchObject({ status: 404, code: 'not_found', requestId: expect.any(String) });
    }
    const shown = (await b.messages.history(dialogId)).messages[0]?.attachments;
    expect(shown).toEqual([{ id: upload.id, removed: true }]);
  });

  it('presence, its visibility and blocks; ICE servers for calls', async () => {
    const chat = await tenant();
    const a = await sdk(chat, alice(chat));
    const b = await sdk(chat, chat.bob);
    await chat.newDialog('Contacts');
    b.realtime.connect();
    await b.realtime.whenReady();

    expect(await a.presence.of(chat.bob.userId)).toMatchObject({ userId: chat.bob.userId, status: 'online' });
    await b.presence.setVisibility('nobody');
    expect(await failure(a.presence.of(chat.bob.userId))).toMatchObject({ status: 404, code: 'not_found' });
    await b.presence.setVisibility('everyone');
    expect((await a.presence.of(chat.bob.userId)).status).toBe('online');

    expect(await a.blocks.list()).toEqual([]);
    expect(await b.presence.of(chat.owner.userId)).toMatchObject({ status: 'offline', lastActiveAt: null });
    await a.blocks.block(chat.bob.userId);
    expect(await a.blocks.list()).toEqual([{ userId: chat.bob.userId, blockedAt: expect.any(String) }]);
    // A block hides presence both ways.
    expect(await failure(a.presence.of(chat.bob.userId))).toMatchObject({ code: 'not_found' });
    expect(await failure(b.presence.of(chat.owner.userId))).toMatchObject({ code: 'not_found' });
    await a.blocks.unblock(chat.bob.userId);
    expect(await a.blocks.list()).toEqual([]);
    expect((await a.presence.of(chat.bob.userId)).status).toBe('online');

    const ice = await a.iceServers();
    expect(ice).toMatchObject({ iceServers: expect.any(Array), ttlSeconds: expect.any(Number) });
    const chatOnly = await sdk(chat, alice(chat), 'profile chat');
    expect(await failure(chatOnly.iceServers())).toMatchObject({ status: 403, code: 'insufficient_scope' });
  });

  it('call records: the caller’s calls and a dialog’s, page by page and by the iterator', async () => {
    const chat = await tenant();
    const a = await sdk(chat, alice(chat));
    const b = await sdk(chat, chat.bob);
    const dialogId = await chat.newDialog('Calls');
    a.realtime.connect();
    b.realtime.connect();
    await Promise.all([a.realtime.whenReady(), b.realtime.whenReady()]);
    const callIds: string[] = [];
    for (const media of ['audio', 'video'] as const) {
      const created = await a.realtime.request({ type: 'call.start', to: { dialogId }, media });
      await a.realtime.request({ type: 'call.hangup', callId: created.callId });
      callIds.push(created.callId);
    }

    const page = await a.callRecords.mine({ limit: 1 });
    expect(page.calls).toHaveLength(1);
    expect(page.calls[0]).toMatchObject({
      id: callIds[1],
      dialogId,
      callerId: chat.owner.userId,
      media: 'video',
      state: 'ended',
      outcome: 'cancelled',
    });
    const next = await a.callRecords.mine({ limit: 1, cursor: page.nextCursor });
    expect(next.calls.map((call) => call.id)).toEqual([callIds[0]]);
    expect((await collect(a.callRecords.allMine({ limit: 1 }))).map((call) => call.id)).toEqual(
      [...callIds].reverse(),
    );
    expect((await b.callRecords.ofDialog(dialogId)).calls.map((call) => call.id)).toEqual(
      [...callIds].reverse(),
    );
    expect((await collect(b.callRecords.allOfDialog(dialogId, { limit: 1 }))).map((call) => call.id)).toEqual(
      [...callIds].reverse(),
    );
    const carol = await sdk(chat, await newUser(chat, 'carol'));
    expect(await failure(carol.callRecords.ofDialog(dialogId))).toMatchObject({ code: 'not_found' });
  });

  it('paths: an id or emoji cannot leave its path segment', async () => {
    const chat = await tenant();
    const a = await sdk(chat, alice(chat));
    const dialogId = await chat.newDialog('Paths');
    const message = await a.messages.send(dialogId, { body: 'x' });
    // Unencoded, `../me` would resolve to GET /v1/me and answer Alice's profile.
    expect(await failure(a.dialogs.get('../me'))).toMatchObject({ status: 400 });
    expect(await failure(a.dialogs.get(`${dialogId}?mode=everyone`))).toMatchObject({ status: 400 });
    // A whole segment of `..` or `.` cannot be encoded (the URL parser reads `%2e` as a dot too): sent, the
    // dialog's call records would be `GET /v1/calls` (the caller's own, 200) and a member's removal `DELETE
    // /v1/dialogs/{id}/`. The SDK refuses such a path before sending it, typed calls and raw ones alike.
    await expect(a.callRecords.ofDialog('..')).rejects.toThrow(TypeError);
    await expect(a.dialogs.removeMember(dialogId, '.')).rejects.toThrow(TypeError);
    await expect(a.messages.delete('..', message.id, 'everyone')).rejects.toThrow(TypeError);
    for (const raw of ['/v1/dialogs/%2E%2e/calls', '/v1/dialogs/.%2e/calls', '/v1/dialogs\\..\\calls'])
      await expect(a.request('GET', raw), raw).rejects.toThrow(TypeError);
    // Dots inside a segment are an ordinary value: the server sees it and refuses it as no dialog id.
    expect(await failure(a.callRecords.ofDialog('..x'))).toMatchObject({ status: 400 });
    // A `/` or `?` in a reaction key stays inside its segment: the server sees the whole key and refuses it as
    // no emoji (unencoded it would reach another path: 404 route_not_found, or react with `a`).
    expect(await failure(a.messages.react(dialogId, message.id, 'a/b?c'))).toMatchObject({
      status: 400,
      code: 'validation_failed',
    });
  });

  it('an expired access token: a JSON call and a byte upload are refreshed and resent once; a stream upload is refused, and the next one goes through', async () => {
    const chat = await tenant();
    const a = await sdk(chat, alice(chat));
    const dialogId = await chat.newDialog('Refresh');
    const bytes = new Uint8Array(randomBytes(50_000));

    clock.advanceSeconds(ACCESS_TOKEN_TTL_SECONDS + 1);
    expect((await a.messages.send(dialogId, { body: 'after expiry' })).body).toBe('after expiry');
    clock.advanceSeconds(ACCESS_TOKEN_TTL_SECONDS + 1);
    const resent = await a.attachments.upload(bytes, { name: 'resent.bin' });
    expect(Buffer.from(await (await a.attachments.download(resent.id)).bytes()).equals(bytes)).toBe(true);

    // A stream cannot be read twice: the SDK refreshes the token but does not resend a half-read body.
    clock.advanceSeconds(ACCESS_TOKEN_TTL_SECONDS + 1);
    const refused = await failure(a.attachments.upload(streamOf(bytes), { name: 'stream.bin' }));
    expect(refused).toMatchObject({ status: 401, code: 'invalid_token' });
    const retried = await a.attachments.upload(streamOf(bytes), { name: 'stream.bin' });
    expect(Buffer.from(await (await a.attachments.download(retried.id)).bytes()).equals(bytes)).toBe(true);
  });
});
