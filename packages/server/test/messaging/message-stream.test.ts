import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAttachmentSharing } from '../../src/attachments/attachment-sharing.ts';
import {
  createMessageStream,
  type SharedRead,
  type SharedStreamPage,
} from '../../src/messaging/message-stream.ts';
import { observeTenantStatements } from '../support/statement-observer.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newMember, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/** A page with its Maps and Sets spelled out, so two pages compare by value. */
const plain = (page: SharedStreamPage | undefined) =>
  page && {
    ...page,
    viewers: [...page.viewers].map(([userId, viewer]) => [userId, viewer.floor, [...viewer.hidden].sort()]),
  };

/**
 * The realtime hub reads the streams of every dialog that changed in one statement set. Batching must not
 * change what anyone is sent: each dialog's page read together with others equals the page read alone —
 * with per-dialog page limits, members who joined a hide-history group late, "delete for me", edits,
 * reactions, deletions, a dialog the reader left and a dialog that does not exist.
 */
describeEachDialect('reading several dialogs’ streams at once', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let bob: { userId: string; token: string };
  let carol: { userId: string; token: string };
  const dialogs: Record<string, string> = {};

  /** A setup request that must succeed (a silent failure would make the comparisons vacuous). */
  const must = async (path: string, options: Parameters<TestServer['request']>[1]) => {
    const response = await server.request(path, options);
    expect(response.status, `${path}: ${response.text}`).toBeLessThan(300);
    return response;
  };

  const send = async (dialogId: string, token: string, clientId: string) =>
    (
      await must(`/v1/dialogs/${dialogId}/messages`, json({ clientId, body: `text ${clientId}` }, token))
    ).json<{ id: string }>().id;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Stream Clinic');
    bob = await newMember(server, owner, 'bob@stream.example');
    carol = await newMember(server, owner, 'carol@stream.example');
    const create = async (body: Record<string, unknown>) =>
      (await must('/v1/dialogs', json(body, owner.accessToken))).json<{ id: string }>().id;
    dialogs.busy = await create({ type: 'group', name: 'Busy', memberIds: [bob.userId, carol.userId] });
    dialogs.hidden = await create({
      type: 'group',
      name: 'Hidden',
      memberIds: [bob.userId],
      hideHistory: true,
    });
    dialogs.left = await create({ type: 'group', name: 'Left', memberIds: [bob.userId, carol.userId] });
    dialogs.quiet = await create({ type: 'group', name: 'Quiet', memberIds: [bob.userId] });
    for (let index = 0; index < 7; index++) await send(dialogs.busy, owner.accessToken, `busy-${index}`);
    const edited = await send(dialogs.busy, bob.token, 'busy-edit');
    await must(
      `/v1/dialogs/${dialogs.busy}/messages/${edited}`,
      json({ body: 'edited' }, bob.token, 'PATCH'),
    );
    await must(
      `/v1/dialogs/${dialogs.busy}/messages/${edited}/reactions/%F0%9F%91%8D`,
      bearer(carol.token, 'PUT'),
    );
    const mine = await send(dialogs.busy, owner.accessToken, 'busy-hide');
    await must(`/v1/dialogs/${dialogs.busy}/messages/${mine}?for=me`, bearer(bob.token, 'DELETE'));
    const gone = await send(dialogs.busy, owner.accessToken, 'busy-gone');
    await must(
      `/v1/dialogs/${dialogs.busy}/messages/${gone}?for=everyone`,
      bearer(owner.accessToken, 'DELETE'),
    );
    for (let index = 0; index < 3; index++) await send(dialogs.hidden, owner.accessToken, `hidden-${index}`);
    await must(`/v1/dialogs/${dialogs.hidden}/members`, json({ userIds: [carol.userId] }, owner.accessToken));
    await send(dialogs.hidden, owner.accessToken, 'hidden-after');
    await send(dialogs.left, owner.accessToken, 'left-0');
    await must(`/v1/dialogs/${dialogs.left}?mode=leave`, bearer(carol.token, 'DELETE'));
    await send(dialogs.left, owner.accessToken, 'left-1');
  });

  afterAll(async () => {
    await server.close();
  });

  it('gives every dialog the same page read together as read alone, at every page size and position', async () => {
    const { stream } = server.app.services;
    const readers = [owner.userId, bob.userId, carol.userId];
    for (const limit of [1, 3, 200]) {
      for (const after of [0, 2, 6]) {
        const reads: SharedRead[] = [
          ...Object.values(dialogs).map((dialogId) => ({ dialogId, after, readerIds: readers })),
          { dialogId: dialogs.busy ?? '', after: after + 1, readerIds: [bob.userId] },
          { dialogId: '01a21049-0000-7000-8000-000000000000', after, readerIds: readers },
        ];
        const together = await stream.sharedMany(owner.tenantId, reads, limit);
        for (const read of reads) {
          // The same dialog twice in one batch is not what the hub does; compare those alone.
          if (reads.filter((other) => other.dialogId === read.dialogId).length > 1) continue;
          const alone = await stream.sharedMany(owner.tenantId, [read], limit);
          expect(
            plain(together.get(read.dialogId)),
            `${read.dialogId} limit ${limit} after ${after}`,
          ).toEqual(plain(alone.get(read.dialogId)));
        }
      }
    }
  });

  it('applies each reader’s view: late joiners miss hidden history, "delete for me" hides, a leaver reads nothing', async () => {
    const { stream } = server.app.services;
    const readers = [owner.userId, bob.userId, carol.userId];
    const pages = await stream.sharedMany(
      owner.tenantId,
      [dialogs.busy, dialogs.hidden, dialogs.left].map((dialogId) => ({
        dialogId: dialogId ?? '',
        after: 0,
        readerIds: readers,
      })),
      200,
    );
    const hidden = pages.get(dialogs.hidden ?? '');
    expect(hidden?.items).toHaveLength(4);
    expect(hidden?.viewers.get(carol.userId)?.floor).toBe(3);
    expect(pages.get(dialogs.left ?? '')?.viewers.has(carol.userId)).toBe(false);
    const busy = pages.get(dialogs.busy ?? '');
    expect(busy?.viewers.get(bob.userId)?.hidden.size).toBe(1);
    expect(busy?.viewers.get(carol.userId)?.hidden.size).toBe(0);
    expect(busy?.items.map((entry) => entry.item.type)).toEqual([
      ...Array<string>(8).fill('message.new'),
      'message.edited',
      'message.reactions',
      'message.new',
      'message.new',
      'message.deleted',
    ]);
  });

  /**
   * A node serves what it committed itself from memory (committed-pages.ts). Attack: a member who left, or
   * who deleted a message for themselves, gets it anyway because memory does not know. The pages from memory
   * must equal the pages a database-only stream reads, and the memory path must really have been taken.
   */
  it('gives the same pages from what this node committed as from the database, viewers and hidden sets included', async () => {
    const { app } = server;
    const fieldCipher = app.security.fieldCipher;
    const databaseOnly = createMessageStream({
      storage: app.storage,
      fieldCipher,
      attachments: createAttachmentSharing({ fieldCipher, dialect: app.storage.dialect }),
    });
    const create = async (body: Record<string, unknown>) =>
      (await must('/v1/dialogs', json(body, owner.accessToken))).json<{ id: string }>().id;
    const plainDialog = await create({ type: 'group', name: 'Plain', memberIds: [bob.userId, carol.userId] });
    const sent: string[] = [];
    for (let index = 0; index < 4; index++)
      sent.push(await send(plainDialog, owner.accessToken, `plain-${index}`));
    await must(`/v1/dialogs/${plainDialog}/messages/${sent[1] ?? ''}?for=me`, bearer(bob.token, 'DELETE'));
    await must(`/v1/dialogs/${plainDialog}?mode=leave`, bearer(carol.token, 'DELETE'));
    const readers = [owner.userId, bob.userId, carol.userId];
    const tables: string[] = [];
    const observer = observeTenantStatements(app.storage, (statement) => {
      tables.push(statement.sql);
      return Promise.resolve();
    });
    let fromMemory: Map<string, SharedStreamPage>;
    try {
      fromMemory = await app.services.stream.sharedMany(
        owner.tenantId,
        [{ dialogId: plainDialog, after: 0, readerIds: readers }],
        200,
      );
    } finally {
      observer.restore();
    }
    expect(tables.filter((text) => /from "messages"/.test(text))).toEqual([]);
    const databaseTables: string[] = [];
    const databaseObserver = observeTenantStatements(app.storage, (statement) => {
      databaseTables.push(statement.sql);
      return Promise.resolve();
    });
    let fromDatabase: Map<string, SharedStreamPage>;
    try {
      fromDatabase = await databaseOnly.sharedMany(
        owner.tenantId,
        [{ dialogId: plainDialog, after: 0, readerIds: readers }],
        200,
      );
    } finally {
      databaseObserver.restore();
    }
    // The check above can fail: the database path does read the messages table.
    expect(databaseTables.filter((text) => /from "messages"/.test(text)).length).toBeGreaterThan(0);
    const page = fromMemory.get(plainDialog);
    expect(plain(page)).toEqual(plain(fromDatabase.get(plainDialog)));
    expect(page?.items).toHaveLength(4);
    expect(page?.viewers.has(carol.userId)).toBe(false);
    expect([...(page?.viewers.get(bob.userId)?.hidden ?? [])]).toEqual([sent[1]]);
  });
});
