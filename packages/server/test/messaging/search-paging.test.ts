import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAttachmentSharing } from '../../src/attachments/attachment-sharing.ts';
import { PostgresSearchIndex } from '../../src/messaging/search/postgres-search-index.ts';
import { maxCandidates } from '../../src/messaging/search/search-index.ts';
import { createSearchService } from '../../src/messaging/search/search-service.ts';
import { SearchTokenHasher } from '../../src/messaging/search/search-token-hasher.ts';
import { SqliteSearchIndex } from '../../src/messaging/search/sqlite-search-index.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { addPrivateDialogs, growDialog } from '../support/history-growth.ts';
import { bearer, json, newMember, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

interface Page {
  results: { message: { id: string; body: string | null } }[];
  nextCursor?: string;
}

/**
 * A search examines at most a fixed number of candidates per request (`maxCandidates`), newest first, and
 * answers with what it found among them and a cursor after the last one it examined. The promise: paging on
 * yields every match the caller may see exactly once, newest first, and nothing they may not see — however
 * many of the candidates are hidden from them (another dialog, a dialog they left, history they cleared or
 * that was hidden before they joined, "delete for me", deleted messages), so that pages come back short or
 * empty. Checked with the engines' own walk at a cap of 3, and at the real cap through REST.
 */
describeEachDialect('search paging under the candidate cap', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let bob: { userId: string; token: string };
  let sent = 0;
  /** Every message with "lynx", in the order sent, and whether bob may see it at the end. */
  const lynxes: { id: string; dialogId: string; body: string; bobSees: boolean }[] = [];

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Paging Clinic');
    bob = await newMember(server, owner, 'bob@paging.example');
  });

  afterAll(async () => {
    await server.close();
  });

  const must = async (path: string, options: Parameters<TestServer['request']>[1]) => {
    const response = await server.request(path, options);
    expect(response.status, `${path}: ${response.text}`).toBeLessThan(300);
    return response;
  };
  const dialog = async (body: Record<string, unknown>) =>
    (await must('/v1/dialogs', json(body, owner.accessToken))).json<{ id: string }>().id;
  const send = async (token: string, dialogId: string, body: string) => {
    sent += 1;
    const response = await must(
      `/v1/dialogs/${dialogId}/messages`,
      json({ clientId: `p-${sent}`, body }, token),
    );
    return response.json<{ id: string }>().id;
  };

  it('pages through a search capped at 3 candidates: every visible match exactly once, newest first, for words, a prefix and a phrase', async () => {
    const shared = await dialog({ type: 'group', name: 'Shared', memberIds: [bob.userId] });
    const notBobs = await dialog({ type: 'group', name: 'Not Bob’s', memberIds: [] });
    const leftLater = await dialog({ type: 'group', name: 'Left', memberIds: [bob.userId] });
    const cleared = await dialog({ type: 'group', name: 'Cleared', memberIds: [bob.userId] });
    const lobby = await dialog({ type: 'public', name: 'Lobby', hideHistory: true });
    const rounds = 8;
    const lynx = async (dialogId: string, round: number, bobSees: boolean) => {
      const body = `lynx ${round % 3 === 0 ? 'pardel' : 'kodkod'} round ${round} ${lynxes.length}`;
      lynxes.push({ id: await send(owner.accessToken, dialogId, body), dialogId, body, bobSees });
    };
    for (let round = 0; round < rounds; round++) {
      const late = round >= rounds / 2;
      if (round === rounds / 2) {
        await must(`/v1/dialogs/${cleared}?mode=clear`, bearer(bob.token, 'DELETE'));
        await must(`/v1/dialogs/${lobby}/members/me`, bearer(bob.token, 'POST'));
      }
      await lynx(notBobs, round, false);
      await lynx(shared, round, true);
      await lynx(leftLater, round, false);
      await lynx(notBobs, round, false);
      await lynx(cleared, round, late);
      await lynx(lobby, round, late);
      await send(owner.accessToken, shared, `no cat here, round ${round}`);
    }
    await must(`/v1/dialogs/${leftLater}?mode=leave`, bearer(bob.token, 'DELETE'));
    // "Delete for me" by bob, and deleted for everyone by the sender: neither is found any more.
    const inShared = lynxes.filter((entry) => entry.dialogId === shared);
    for (const [entry, mode, token] of [
      [inShared[2], 'me', bob.token],
      [inShared[5], 'everyone', owner.accessToken],
    ] as const) {
      if (!entry) throw new Error('no message to remove');
      await must(`/v1/dialogs/${shared}/messages/${entry.id}?for=${mode}`, bearer(token, 'DELETE'));
      entry.bobSees = false;
    }

    const hasher = new SearchTokenHasher(server.app.security.keyring);
    const capped = { maxCandidates: 3 };
    const search = createSearchService({
      storage: server.app.storage,
      index:
        dialect === 'postgres'
          ? new PostgresSearchIndex(hasher, capped)
          : new SqliteSearchIndex(hasher, capped),
      fieldCipher: server.app.security.fieldCipher,
      attachments: createAttachmentSharing({
        fieldCipher: server.app.security.fieldCipher,
        dialect: server.app.storage.dialect,
      }),
    });
    const queries: [string, (body: string) => boolean][] = [
      ['lynx', () => true],
      ['lyn*', () => true],
      ['kodkod lynx', (body) => body.includes('kodkod')],
      ['"lynx pardel"', (body) => body.includes('lynx pardel')],
    ];
    for (const [q, matches] of queries) {
      const expected = lynxes
        .filter((entry) => entry.bobSees && matches(entry.body))
        .map((entry) => entry.id)
        .reverse();
      // Limit 1: pages fill within the cap's 3 candidates (and the cursor is the last result's); limit 3:
      // the cap ends every page before it is full (the cursor is the last candidate examined).
      for (const limit of [1, 3]) {
        const found: string[] = [];
        const pageEnds = { full: 0, capped: 0 };
        let cursor: string | undefined;
        // Each page examines at least one candidate, so the walk ends within as many pages as there are.
        for (let pages = 0; pages <= lynxes.length; pages++) {
          const page = await search.search(owner.tenantId, bob.userId, { q, limit, cursor });
          found.push(...page.results.map((result) => result.message.id));
          cursor = page.nextCursor;
          if (cursor === undefined) break;
          pageEnds[page.results.length === limit ? 'full' : 'capped'] += 1;
        }
        expect(cursor, `${q}: still paging`).toBeUndefined();
        expect(found, `${q}, limit ${limit}`).toEqual(expected);
        expect(pageEnds.capped, `${q}, limit ${limit}: pages ended by the cap`).toBeGreaterThan(0);
        if (limit === 1) expect(pageEnds.full, `${q}: full pages`).toBeGreaterThan(0);
      }
      // The server's own search, at the real cap, finds the same in one page.
      const response = await must(
        `/v1/search/messages?${new URLSearchParams({ q, limit: '50' }).toString()}`,
        bearer(bob.token),
      );
      const whole = response.json<Page>();
      expect(
        whole.results.map((result) => result.message.id),
        q,
      ).toEqual(expected);
      expect(whole.nextCursor).toBeUndefined();
    }
  });

  it(`answers a search whose newest ${maxCandidates} matches the caller may not see with an empty page and a cursor; the next page finds the older ones`, async () => {
    const mine = await dialog({ type: 'group', name: 'Mine', memberIds: [bob.userId] });
    const older = [];
    for (const word of ['first', 'second', 'third'])
      older.push(await send(owner.accessToken, mine, `note ${word}`));
    // Newer: other people's one-to-one dialog with more than the cap of messages holding "note".
    const [theirs] = await addPrivateDialogs(server.app.storage, owner.tenantId, 1, Date.now());
    if (!theirs) throw new Error('no dialog grown');
    const growth = {
      storage: server.app.storage,
      fieldCipher: server.app.security.fieldCipher,
      index:
        dialect === 'postgres'
          ? new PostgresSearchIndex(new SearchTokenHasher(server.app.security.keyring))
          : new SqliteSearchIndex(new SearchTokenHasher(server.app.security.keyring)),
    };
    // Eight messages per ten sequence numbers: 2,160 messages.
    await growDialog(growth, owner.tenantId, theirs, Math.ceil((maxCandidates * 1.08 * 10) / 8), Date.now());
    // Lets the timers that expired while SQLite grew synchronously close idle connections first.
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));

    const page = async (cursor?: string) =>
      (
        await must(
          `/v1/search/messages?${new URLSearchParams({ q: 'note', ...(cursor ? { cursor } : {}) }).toString()}`,
          bearer(bob.token),
        )
      ).json<Page>();
    const first = await page();
    expect(first.results).toEqual([]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await page(first.nextCursor);
    expect(second.results.map((result) => result.message.id)).toEqual([...older].reverse());
    expect(second.nextCursor).toBeUndefined();
  });
});
