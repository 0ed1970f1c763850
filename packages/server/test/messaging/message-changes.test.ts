import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn, newMember } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

interface Message {
  id: string;
  seq: number;
  body: string | null;
  editedAt: string | null;
  deleted: boolean;
  reactions: { emoji: string; userIds: string[] }[];
}
interface Change {
  seq: number | null;
  message: Message;
}
interface User {
  userId: string;
  token: string;
}

describeEachDialect(
  'message edits, deletions, reactions, receipts, members, blocks and limits',
  (dialect) => {
    let server: TestServer;
    let owner: SignedIn;
    let bob: User;
    let carol: User;
    let dave: User;
    let skew = 0;
    const clock = { now: () => Date.now() + skew };

    beforeAll(async () => {
      server = await startTestServer({ dialect, clock });
      owner = await newTenantOwner(server, 'Edit Clinic');
      const member = (name: string) => newMember(server, owner, `${name}@edit.example`);
      bob = await member('bob');
      carol = await member('carol');
      dave = await member('dave');
    });

    afterAll(async () => {
      await server.close();
    });

    const group = async (token: string, memberIds: string[], extra: Record<string, unknown> = {}) => {
      const created = await server.request(
        '/v1/dialogs',
        json({ type: 'group', name: 'Ward', memberIds, ...extra }, token),
      );
      expect(created.status, created.text).toBe(201);
      return created.json<{ id: string }>().id;
    };
    const send = async (token: string, dialogId: string, clientId: string, body: string) => {
      const sent = await server.request(`/v1/dialogs/${dialogId}/messages`, json({ clientId, body }, token));
      expect(sent.status, sent.text).toBe(201);
      return sent.json<Message>();
    };
    const history = async (token: string, dialogId: string, query = '') => {
      const page = await server.request(`/v1/dialogs/${dialogId}/messages${query}`, bearer(token));
      expect(page.status, page.text).toBe(200);
      return page.json<{ messages: Message[]; oldestSeq: number | null; newestSeq: number | null }>();
    };
    const path = (dialogId: string, messageId: string) => `/v1/dialogs/${dialogId}/messages/${messageId}`;

    it('lets only the sender edit; the edit is flagged, takes the next seq and shows in history', async () => {
      const dialogId = await group(owner.accessToken, [bob.userId]);
      const original = await send(bob.token, dialogId, 'e-1', 'Dose: 5 mg');
      const byOther = await server.request(
        path(dialogId, original.id),
        json({ body: 'Dose: 50 mg' }, owner.accessToken, 'PATCH'),
      );
      expect(byOther.status).toBe(403);
      const edited = await server.request(
        path(dialogId, original.id),
        json({ body: 'Dose: 2.5 mg' }, bob.token, 'PATCH'),
      );
      expect(edited.status, edited.text).toBe(200);
      const change = edited.json<Change>();
      expect(change.seq).toBe(original.seq + 1);
      expect(change.message).toMatchObject({ id: original.id, seq: original.seq, body: 'Dose: 2.5 mg' });
      expect(change.message.editedAt).not.toBeNull();
      const [shown] = (await history(owner.accessToken, dialogId)).messages;
      expect(shown).toMatchObject({ body: 'Dose: 2.5 mg', editedAt: change.message.editedAt });
    });

    it('deletes for everyone (sender or group admin) leaving a tombstone, and for me only from my history', async () => {
      const dialogId = await group(owner.accessToken, [bob.userId, carol.userId]);
      const first = await send(bob.token, dialogId, 'd-1', 'Wrong patient');
      const second = await send(carol.token, dialogId, 'd-2', 'Noted');
      const byPlainMember = await server.request(
        `${path(dialogId, first.id)}?for=everyone`,
        bearer(carol.token, 'DELETE'),
      );
      expect(byPlainMember.status).toBe(403);
      const byAdmin = await server.request(
        `${path(dialogId, first.id)}?for=everyone`,
        bearer(owner.accessToken, 'DELETE'),
      );
      expect(byAdmin.status, byAdmin.text).toBe(200);
      expect(byAdmin.json<Change>()).toMatchObject({
        seq: 3,
        message: { id: first.id, body: null, deleted: true },
      });
      const hideForMe = await server.request(
        `${path(dialogId, second.id)}?for=me`,
        bearer(bob.token, 'DELETE'),
      );
      expect(hideForMe.json<Change>().seq).toBeNull();
      expect((await history(bob.token, dialogId)).messages.map((message) => message.id)).toEqual([first.id]);
      const carolSees = (await history(carol.token, dialogId)).messages;
      expect(carolSees.map((message) => [message.body, message.deleted])).toEqual([
        [null, true],
        ['Noted', false],
      ]);
    });

    it('keeps one reaction per user and emoji, and repeats change nothing', async () => {
      const dialogId = await group(owner.accessToken, [bob.userId]);
      const message = await send(owner.accessToken, dialogId, 'r-1', 'Lunch?');
      const thumbs = `${path(dialogId, message.id)}/reactions/${encodeURIComponent('👍')}`;
      const added = await server.request(thumbs, bearer(bob.token, 'PUT'));
      expect(added.json<Change>()).toMatchObject({
        seq: 2,
        message: { reactions: [{ emoji: '👍', userIds: [bob.userId] }] },
      });
      const again = await server.request(thumbs, bearer(bob.token, 'PUT'));
      expect(again.json<Change>().seq).toBeNull();
      await server.request(thumbs, bearer(owner.accessToken, 'PUT'));
      const [shown] = (await history(bob.token, dialogId)).messages;
      expect(shown?.reactions).toEqual(
        [{ emoji: '👍', userIds: [bob.userId, owner.userId].sort() }].map((entry) => ({
          ...entry,
          userIds: expect.arrayContaining(entry.userIds),
        })),
      );
      const removed = await server.request(thumbs, bearer(bob.token, 'DELETE'));
      expect(removed.json<Change>().message.reactions).toEqual([{ emoji: '👍', userIds: [owner.userId] }]);
      // Reactions are stored unencrypted: free text (a name, a diagnosis) must not ride in one.
      for (const text of ['a b', 'hiv', 'John', '👍👍', 'a/b?c']) {
        const notEmoji = await server.request(
          `${path(dialogId, message.id)}/reactions/${encodeURIComponent(text)}`,
          bearer(bob.token, 'PUT'),
        );
        expect(notEmoji.status, text).toBe(400);
        expect(notEmoji.json<{ error: { code: string } }>().error.code).toBe('validation_failed');
      }
      for (const emoji of ['👍🏽', '👨‍👩‍👧', '🇩🇪', '❤', ':tada:']) {
        const accepted = await server.request(
          `${path(dialogId, message.id)}/reactions/${encodeURIComponent(emoji)}`,
          bearer(bob.token, 'PUT'),
        );
        expect(accepted.status, emoji).toBe(200);
      }
    });

    it('accepts replies to messages of the same dialog and mentions of its members only', async () => {
      const dialogId = await group(owner.accessToken, [bob.userId]);
      const elsewhere = await group(owner.accessToken, [carol.userId]);
      const question = await send(owner.accessToken, dialogId, 'q-1', 'Who is on call?');
      const foreign = await send(owner.accessToken, elsewhere, 'q-2', 'Elsewhere');
      const post = (body: Record<string, unknown>) =>
        server.request(`/v1/dialogs/${dialogId}/messages`, json({ body: 'me', ...body }, bob.token));
      const reply = await post({ clientId: 'a-1', replyTo: question.id, mentions: [owner.userId] });
      expect(reply.status, reply.text).toBe(201);
      expect(reply.json()).toMatchObject({ replyTo: question.id, mentions: [owner.userId] });
      const wrongDialog = await post({ clientId: 'a-2', replyTo: foreign.id });
      expect(wrongDialog.status).toBe(400);
      const stranger = await post({ clientId: 'a-3', mentions: [carol.userId] });
      expect(stranger.status).toBe(400);
      expect((await history(owner.accessToken, dialogId)).messages).toHaveLength(2);
    });

    it('pages around a message and jumps to a date', async () => {
      const dialogId = await group(owner.accessToken, [bob.userId]);
      const sent: Message[] = [];
      for (let index = 1; index <= 9; index += 1)
        sent.push(await send(owner.accessToken, dialogId, `h-${index}`, `m${index}`));
      const middle = sent[4];
      const around = await history(bob.token, dialogId, `?around=${middle?.id ?? ''}&limit=4`);
      expect(around.messages.map((message) => message.body)).toEqual(['m3', 'm4', 'm5', 'm6']);
      const future = await history(
        bob.token,
        dialogId,
        `?at=${encodeURIComponent('2999-01-01T00:00:00Z')}&limit=4`,
      );
      expect(future.messages.map((message) => message.body)).toEqual(['m8', 'm9']);
      const past = await history(
        bob.token,
        dialogId,
        `?at=${encodeURIComponent('2000-01-01T00:00:00Z')}&limit=3`,
      );
      expect(past.messages.map((message) => message.body)).toEqual(['m1', 'm2', 'm3']);
      const unknown = await server.request(
        `/v1/dialogs/${dialogId}/messages?around=00000000-0000-7000-8000-000000000000`,
        bearer(bob.token),
      );
      expect(unknown.status).toBe(404);
    });

    it('records delivered and read positions per member; read implies delivered; never backwards', async () => {
      const dialogId = await group(owner.accessToken, [bob.userId]);
      await send(owner.accessToken, dialogId, 'x-1', 'one');
      await send(owner.accessToken, dialogId, 'x-2', 'two');
      const post = (what: string, seq: number) =>
        server.request(`/v1/dialogs/${dialogId}/${what}`, json({ seq }, bob.token));
      expect((await post('delivered', 2)).status).toBe(204);
      expect((await post('read', 1)).status).toBe(204);
      expect((await post('delivered', 1)).status).toBe(204);
      const receipts = (
        await server.request(`/v1/dialogs/${dialogId}/receipts`, bearer(owner.accessToken))
      ).json<{ receipts: { userId: string; deliveredSeq: number; readSeq: number }[] }>().receipts;
      expect(receipts).toContainEqual({ userId: bob.userId, deliveredSeq: 2, readSeq: 1 });
      expect(receipts).toContainEqual({ userId: owner.userId, deliveredSeq: 2, readSeq: 2 });
    });

    it('re-adds a removed admin, or lets one rejoin a public dialog, only as a plain member', async () => {
      const dialogId = await group(owner.accessToken, [bob.userId, carol.userId]);
      const promote = (userId: string) =>
        server.request(
          `/v1/dialogs/${dialogId}/members/${userId}`,
          json({ role: 'admin' }, owner.accessToken, 'PATCH'),
        );
      expect((await promote(bob.userId)).status).toBe(204);
      expect((await promote(carol.userId)).status).toBe(204);
      // The owner removes Bob; Carol, another admin, adds him back: he must not be an admin again.
      await server.request(
        `/v1/dialogs/${dialogId}/members/${bob.userId}`,
        bearer(owner.accessToken, 'DELETE'),
      );
      const readd = await server.request(
        `/v1/dialogs/${dialogId}/members`,
        json({ userIds: [bob.userId] }, carol.token),
      );
      expect(readd.status, readd.text).toBe(200);
      const asAdmin = await server.request(
        `/v1/dialogs/${dialogId}/members`,
        json({ userIds: [dave.userId] }, bob.token),
      );
      expect(asAdmin.status).toBe(403);
      // A public dialog: an admin who left and rejoins is a plain member.
      const square = (
        await server.request('/v1/dialogs', json({ type: 'public', name: 'Square' }, owner.accessToken))
      ).json<{ id: string }>().id;
      await server.request(`/v1/dialogs/${square}/members/me`, bearer(bob.token, 'POST'));
      await server.request(
        `/v1/dialogs/${square}/members/${bob.userId}`,
        json({ role: 'admin' }, owner.accessToken, 'PATCH'),
      );
      await server.request(`/v1/dialogs/${square}?mode=leave`, bearer(bob.token, 'DELETE'));
      const rejoined = await server.request(`/v1/dialogs/${square}/members/me`, bearer(bob.token, 'POST'));
      expect(rejoined.json<{ myRole: string }>().myRole).toBe('member');
    });

    it('lets owners and admins manage members, only the owner name admins, within the tenant’s group limit', async () => {
      const dialogId = await group(owner.accessToken, [bob.userId]);
      const add = (token: string, userIds: string[]) =>
        server.request(`/v1/dialogs/${dialogId}/members`, json({ userIds }, token));
      expect((await add(bob.token, [carol.userId])).status).toBe(403);
      expect(
        (
          await server.request(
            `/v1/dialogs/${dialogId}/members/${bob.userId}`,
            json({ role: 'admin' }, owner.accessToken, 'PATCH'),
          )
        ).status,
      ).toBe(204);
      expect((await add(bob.token, [carol.userId])).status).toBe(200);
      const limited = await server.request(
        '/v1/tenant/settings',
        json({ messaging: { maxGroupMembers: 3 } }, owner.accessToken, 'PATCH'),
      );
      expect(limited.status, limited.text).toBe(200);
      const full = await add(owner.accessToken, [dave.userId]);
      expect(full.status).toBe(409);
      expect(full.json<{ error: { code: string } }>().error.code).toBe('dialog_full');
      const removed = await server.request(
        `/v1/dialogs/${dialogId}/members/${carol.userId}`,
        bearer(bob.token, 'DELETE'),
      );
      expect(removed.status).toBe(204);
      expect(
        (await server.request(`/v1/dialogs/${dialogId}/members/${owner.userId}`, bearer(bob.token, 'DELETE')))
          .status,
      ).toBe(403);
      const carolLooks = await server.request(`/v1/dialogs/${dialogId}/messages`, bearer(carol.token));
      expect(carolLooks.status).toBe(404);
      await server.request(
        '/v1/tenant/settings',
        json({ messaging: { maxGroupMembers: 1000 } }, owner.accessToken, 'PATCH'),
      );
    });

    it('refuses text over the tenant’s size limit and edits after the edit window', async () => {
      const dialogId = await group(owner.accessToken, [bob.userId]);
      await server.request(
        '/v1/tenant/settings',
        json({ messaging: { maxMessageBytes: 64, editWindowSeconds: 60 } }, owner.accessToken, 'PATCH'),
      );
      const tooLong = await server.request(
        `/v1/dialogs/${dialogId}/messages`,
        json({ clientId: 'big', body: 'é'.repeat(33) }, bob.token),
      );
      expect(tooLong.status).toBe(413);
      expect(tooLong.json<{ error: { code: string } }>().error.code).toBe('message_too_large');
      const message = await send(bob.token, dialogId, 'small', 'é'.repeat(32));
      skew += 61_000;
      const late = await server.request(
        path(dialogId, message.id),
        json({ body: 'fixed' }, bob.token, 'PATCH'),
      );
      expect(late.json<{ error: { code: string } }>().error.code).toBe('edit_window_closed');
      await server.request(
        '/v1/tenant/settings',
        json({ messaging: { maxMessageBytes: 16_384, editWindowSeconds: 0 } }, owner.accessToken, 'PATCH'),
      );
      expect((await history(owner.accessToken, dialogId)).messages.map((entry) => entry.body)).toEqual([
        'é'.repeat(32),
      ]);
    });

    it('stops private messages both ways once either side blocks, and lets them resume after unblocking', async () => {
      const created = await server.request(
        '/v1/dialogs',
        json({ type: 'private', memberIds: [dave.userId] }, carol.token),
      );
      const dialogId = created.json<{ id: string }>().id;
      await send(dave.token, dialogId, 'b-1', 'Hi Carol');
      expect((await server.request(`/v1/me/blocks/${dave.userId}`, bearer(carol.token, 'PUT'))).status).toBe(
        204,
      );
      for (const [token, clientId] of [
        [dave.token, 'b-2'],
        [carol.token, 'b-3'],
      ] as const) {
        const refused = await server.request(
          `/v1/dialogs/${dialogId}/messages`,
          json({ clientId, body: 'still there?' }, token),
        );
        expect(refused.status).toBe(403);
        expect(refused.json<{ error: { code: string } }>().error.code).toBe('blocked');
      }
      const newPair = await server.request(
        '/v1/dialogs',
        json({ type: 'private', memberIds: [carol.userId] }, dave.token),
      );
      expect(newPair.status).toBe(403);
      const list = (await server.request('/v1/me/blocks', bearer(carol.token))).json<{
        blocks: { userId: string }[];
      }>();
      expect(list.blocks.map((entry) => entry.userId)).toEqual([dave.userId]);
      expect(
        (await server.request(`/v1/me/blocks/${dave.userId}`, bearer(carol.token, 'DELETE'))).status,
      ).toBe(204);
      await send(dave.token, dialogId, 'b-4', 'Hello again');
      expect((await history(carol.token, dialogId)).messages.map((entry) => entry.body)).toEqual([
        'Hi Carol',
        'Hello again',
      ]);
    });

    it('shows presence only as the user’s privacy setting and blocks allow', async () => {
      const presence = (token: string, userId: string) =>
        server.request(`/v1/users/${userId}/presence`, bearer(token));
      // Bob shares dialogs with the owner; Dave and Bob share none created by these tests so far.
      const dialogId = await group(owner.accessToken, [bob.userId]);
      expect(dialogId).toBeTruthy();
      expect((await presence(owner.accessToken, bob.userId)).json()).toMatchObject({
        userId: bob.userId,
        status: 'offline',
      });
      const isolated = await newTenantOwner(server, 'Elsewhere');
      expect((await presence(isolated.accessToken, bob.userId)).status).toBe(404);
      await server.request('/v1/me/presence-visibility', json({ visibility: 'nobody' }, bob.token, 'PUT'));
      expect((await presence(owner.accessToken, bob.userId)).status).toBe(404);
      await server.request('/v1/me/presence-visibility', json({ visibility: 'everyone' }, bob.token, 'PUT'));
      expect((await presence(dave.token, bob.userId)).status).toBe(200);
      await server.request(`/v1/me/blocks/${dave.userId}`, bearer(bob.token, 'PUT'));
      expect((await presence(dave.token, bob.userId)).status).toBe(404);
      expect((await presence(bob.token, dave.userId)).status).toBe(404);
    });
  },
);
