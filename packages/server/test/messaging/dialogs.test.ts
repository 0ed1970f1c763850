import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn, newMember } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

interface Dialog {
  id: string;
  type: string;
  name: string | null;
  memberIds: string[];
  lastSeq: number;
  unreadCount: number;
  lastMessage: { body: string | null } | null;
}
interface Message {
  id: string;
  seq: number;
  body: string | null;
  clientId: string;
}

describeEachDialect('dialogs and messages over REST', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let bob: { userId: string; token: string };
  let carol: { userId: string; token: string };

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Chatty Clinic');
    const member = (name: string) => newMember(server, owner, `${name}@chatty.example`);
    bob = await member('bob');
    carol = await member('carol');
  });

  afterAll(async () => {
    await server.close();
  });

  const create = (token: string, body: Record<string, unknown>) =>
    server.request('/v1/dialogs', json(body, token));
  const send = (token: string, dialogId: string, clientId: string, body: string) =>
    server.request(`/v1/dialogs/${dialogId}/messages`, json({ clientId, body }, token));

  it('has one private dialog per pair of users', async () => {
    const first = await create(owner.accessToken, { type: 'private', memberIds: [bob.userId] });
    expect(first.status).toBe(201);
    const again = await create(bob.token, { type: 'private', memberIds: [owner.userId] });
    expect(again.json<Dialog>().id).toBe(first.json<Dialog>().id);
    expect(first.json<Dialog>().memberIds.sort()).toEqual([owner.userId, bob.userId].sort());
    const withTwo = await create(owner.accessToken, {
      type: 'private',
      memberIds: [bob.userId, carol.userId],
    });
    expect(withTwo.status).toBe(400);
  });

  it('numbers messages without gaps, and a retried send answers the same message', async () => {
    const dialog = (
      await create(owner.accessToken, { type: 'group', name: 'Ward 7', memberIds: [bob.userId] })
    ).json<Dialog>();
    const first = await send(owner.accessToken, dialog.id, 'c-1', 'Good morning');
    expect(first.status).toBe(201);
    const retried = await send(owner.accessToken, dialog.id, 'c-1', 'Good morning');
    expect(retried.status).toBe(200);
    expect(retried.json<Message>()).toMatchObject({ id: first.json<Message>().id, seq: 1 });
    const second = await send(bob.token, dialog.id, 'c-1', 'Morning!');
    expect(second.json<Message>().seq).toBe(2);
    const history = (await server.request(`/v1/dialogs/${dialog.id}/messages`, bearer(bob.token))).json<{
      messages: Message[];
    }>();
    expect(history.messages.map((message) => [message.seq, message.body])).toEqual([
      [1, 'Good morning'],
      [2, 'Morning!'],
    ]);
  });

  it('pages history both ways', async () => {
    const dialog = (
      await create(owner.accessToken, { type: 'group', name: 'Paging', memberIds: [bob.userId] })
    ).json<Dialog>();
    for (let n = 1; n <= 7; n += 1) await send(owner.accessToken, dialog.id, `p-${n}`, `message ${n}`);
    const latest = (
      await server.request(`/v1/dialogs/${dialog.id}/messages?limit=3`, bearer(bob.token))
    ).json<{ messages: Message[]; oldestSeq: number }>();
    expect(latest.messages.map((message) => message.seq)).toEqual([5, 6, 7]);
    const older = (
      await server.request(
        `/v1/dialogs/${dialog.id}/messages?limit=3&before=${latest.oldestSeq}`,
        bearer(bob.token),
      )
    ).json<{ messages: Message[] }>();
    expect(older.messages.map((message) => message.seq)).toEqual([2, 3, 4]);
    const newer = (
      await server.request(`/v1/dialogs/${dialog.id}/messages?limit=2&after=3`, bearer(bob.token))
    ).json<{ messages: Message[] }>();
    expect(newer.messages.map((message) => message.seq)).toEqual([4, 5]);
  });

  it('hides dialogs from non-members (404) and lets only owners and admins post in broadcasts', async () => {
    const group = (
      await create(owner.accessToken, { type: 'group', name: 'Private group', memberIds: [bob.userId] })
    ).json<Dialog>();
    expect((await server.request(`/v1/dialogs/${group.id}`, bearer(carol.token))).status).toBe(404);
    expect((await send(carol.token, group.id, 'x', 'let me in')).status).toBe(404);
    expect((await server.request(`/v1/dialogs/${group.id}/messages`, bearer(carol.token))).status).toBe(404);
    const broadcast = (
      await create(owner.accessToken, { type: 'broadcast', name: 'News', memberIds: [bob.userId] })
    ).json<Dialog>();
    expect((await send(bob.token, broadcast.id, 'b-1', 'me too')).status).toBe(403);
    expect((await send(owner.accessToken, broadcast.id, 'b-1', 'Announcement')).status).toBe(201);
    expect(
      (await server.request(`/v1/dialogs/${broadcast.id}`, json({ name: 'Hijacked' }, bob.token, 'PATCH')))
        .status,
    ).toBe(403);
  });

  it('public dialogs can be joined; hidden history starts at the join', async () => {
    const square = (
      await create(owner.accessToken, { type: 'public', name: 'Square', hideHistory: true })
    ).json<Dialog>();
    await send(owner.accessToken, square.id, 'sq-1', 'before carol');
    expect(
      (
        await server.request(`/v1/dialogs/${square.id}/members/me`, {
          method: 'POST',
          headers: { authorization: `Bearer ${carol.token}` },
        })
      ).status,
    ).toBe(200);
    await send(owner.accessToken, square.id, 'sq-2', 'after carol');
    const seen = (await server.request(`/v1/dialogs/${square.id}/messages`, bearer(carol.token))).json<{
      messages: Message[];
    }>();
    expect(seen.messages.map((message) => message.body)).toEqual(['after carol']);
  });

  it('tracks unread counts and read receipts; delete-for-me hides history only for me', async () => {
    const dialog = (
      await create(owner.accessToken, { type: 'group', name: 'Unread', memberIds: [bob.userId] })
    ).json<Dialog>();
    await send(owner.accessToken, dialog.id, 'u-1', 'one');
    await send(owner.accessToken, dialog.id, 'u-2', 'two');
    const forBob = (await server.request(`/v1/dialogs/${dialog.id}`, bearer(bob.token))).json<Dialog>();
    expect(forBob).toMatchObject({ unreadCount: 2, lastSeq: 2, lastMessage: { body: 'two' } });
    expect((await server.request(`/v1/dialogs/${dialog.id}/read`, json({ seq: 1 }, bob.token))).status).toBe(
      204,
    );
    expect(
      (await server.request(`/v1/dialogs/${dialog.id}`, bearer(bob.token))).json<Dialog>().unreadCount,
    ).toBe(1);
    expect(
      (await server.request(`/v1/dialogs/${dialog.id}?mode=clear`, bearer(bob.token, 'DELETE'))).status,
    ).toBe(204);
    expect(
      (await server.request(`/v1/dialogs/${dialog.id}/messages`, bearer(bob.token))).json<{
        messages: Message[];
      }>().messages,
    ).toEqual([]);
    expect(
      (await server.request(`/v1/dialogs/${dialog.id}/messages`, bearer(owner.accessToken))).json<{
        messages: Message[];
      }>().messages,
    ).toHaveLength(2);
  });

  it('lists the caller’s dialogs by last activity with cursor pagination', async () => {
    const listed = (await server.request('/v1/dialogs?limit=2', bearer(bob.token))).json<{
      dialogs: Dialog[];
      nextCursor?: string;
    }>();
    expect(listed.dialogs).toHaveLength(2);
    const next = (
      await server.request(`/v1/dialogs?limit=2&cursor=${listed.nextCursor ?? ''}`, bearer(bob.token))
    ).json<{ dialogs: Dialog[] }>();
    const ids = [...listed.dialogs, ...next.dialogs].map((dialog) => dialog.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('stores message bodies and dialog names sealed', async () => {
    const dialog = (
      await create(owner.accessToken, { type: 'group', name: 'Oncology consult', memberIds: [bob.userId] })
    ).json<Dialog>();
    await send(owner.accessToken, dialog.id, 's-1', 'Patient Margaret has stage II');
    const raw = await server.app.storage.withTenant(owner.tenantId, async (tx) => ({
      dialog: await tx.selectFrom('dialogs').selectAll().where('id', '=', dialog.id).executeTakeFirst(),
      messages: await tx.selectFrom('messages').selectAll().where('dialog_id', '=', dialog.id).execute(),
    }));
    expect(JSON.stringify(raw)).not.toMatch(/Oncology|Margaret|stage II/);
  });

  it('keeps sequence numbers unique and gap-free under concurrent senders', async () => {
    const dialog = (
      await create(owner.accessToken, { type: 'group', name: 'Busy', memberIds: [bob.userId, carol.userId] })
    ).json<Dialog>();
    const senders = [owner.accessToken, bob.token, carol.token];
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, n) =>
        send(senders[n % 3] ?? '', dialog.id, `busy-${n}`, `message ${n}`),
      ),
    );
    expect(results.every((result) => result.status === 201)).toBe(true);
    const seqs = results.map((result) => result.json<Message>().seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 24 }, (_, n) => n + 1));
  });
});
