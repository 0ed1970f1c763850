import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newMember, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { parley } from '../support/run-cli.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

interface Report {
  tenantId: string;
  examined: number;
  indexed: number;
  withoutWords: number;
  batches: number;
}

/**
 * `parley search reindex`: messages without a search entry (stored before migration 0007, or their entry
 * lost) are never found; the command indexes them, in batches, while the server runs, and a second run
 * changes nothing. The index rows are deleted directly in the database to make messages "old".
 */
describeEachDialect('parley search reindex', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let other: SignedIn;
  let bob: { userId: string; token: string };
  let carol: { userId: string; token: string };
  let sent = 0;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Reindex Clinic');
    other = await newTenantOwner(server, 'Reindex Other');
    bob = await newMember(server, owner, 'bob@reindex.example');
    carol = await newMember(server, owner, 'carol@reindex.example');
  });

  afterAll(async () => {
    await server.close();
  });

  const send = async (token: string, dialogId: string, body: string) => {
    sent += 1;
    const response = await server.request(
      `/v1/dialogs/${dialogId}/messages`,
      json({ clientId: `r-${sent}`, body }, token),
    );
    expect(response.status, response.text).toBe(201);
    return response.json<{ id: string }>().id;
  };
  const group = async (token: string, memberIds: string[]) => {
    const response = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Reindexed', memberIds }, token),
    );
    expect(response.status, response.text).toBe(201);
    return response.json<{ id: string }>().id;
  };
  const found = async (token: string, q: string) => {
    const response = await server.request(
      `/v1/search/messages?${new URLSearchParams({ q, limit: '50' }).toString()}`,
      bearer(token),
    );
    expect(response.status, response.text).toBe(200);
    return response
      .json<{ results: { message: { body: string | null }; snippet: string }[] }>()
      .results.map((result) => result.message.body)
      .sort();
  };
  const reindex = async (...args: string[]) => {
    const result = await parley(['search', 'reindex', ...args], server.database.env);
    expect(result.code, result.stderr).toBe(0);
    return {
      stdout: result.stdout,
      reports: result.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Report),
    };
  };

  /** Index rows of the tenant: entries, plus on PostgreSQL one term row per distinct token. */
  const indexRows = async (tenantId: string) => {
    const db = server.app.storage.kysely;
    const count = async (table: 'message_search' | 'message_search_terms') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .where('tenant_id', '=', tenantId)
            .executeTakeFirstOrThrow()
        ).n,
      );
    return {
      entries: await count('message_search'),
      terms: dialect === 'postgres' ? await count('message_search_terms') : 0,
    };
  };

  it('indexes messages that lost their entries, in batches: found afterwards, and a second run changes nothing', async () => {
    const dialogId = await group(owner.accessToken, [bob.userId]);
    const animals = ['okapi', 'numbat', 'quoll', 'kinkajou', 'tarsier'];
    const texts = animals.map((animal) => `The ${animal} was seen near the marsh`);
    for (const text of texts) await send(owner.accessToken, dialogId, text);
    await send(bob.token, dialogId, '!!! ???');
    const removed = await send(owner.accessToken, dialogId, 'The pangolin was seen near the marsh');
    const deleted = await server.request(
      `/v1/dialogs/${dialogId}/messages/${removed}?for=everyone`,
      bearer(owner.accessToken, 'DELETE'),
    );
    expect(deleted.status, deleted.text).toBe(200);
    const theirs = await group(other.accessToken, []);
    await send(other.accessToken, theirs, 'The okapi of the other tenant');
    expect(await found(bob.token, 'marsh')).toEqual([...texts].sort());
    const rowsAsSent = await indexRows(owner.tenantId);
    expect(rowsAsSent.entries).toBe(5);
    const otherRowsBefore = await indexRows(other.tenantId);

    // Entries lost: each engine's rows go with them (SQLite's FTS5 rows and PostgreSQL's term rows, by
    // triggers), however the entries are removed.
    const db = server.app.storage.kysely;
    expect(rowsAsSent.terms > 0).toBe(dialect === 'postgres');
    await sql`delete from message_search where tenant_id = ${owner.tenantId}`.execute(db);
    expect(await indexRows(owner.tenantId)).toEqual({ entries: 0, terms: 0 });
    expect(await found(bob.token, 'marsh')).toEqual([]);
    expect(await found(bob.token, 'okapi')).toEqual([]);

    const first = await reindex('--tenant', owner.tenantId, '--batch', '2');
    // Six visible messages lack an entry (the deleted one is not visible); one has no word; 2 per batch.
    expect(first.reports).toEqual([
      { tenantId: owner.tenantId, examined: 6, indexed: 5, withoutWords: 1, batches: 3 },
    ]);
    // Counts only: no word of any message.
    for (const word of [...animals, 'marsh', 'pangolin']) expect(first.stdout).not.toContain(word);

    expect(await found(bob.token, 'marsh')).toEqual([...texts].sort());
    expect(await found(bob.token, 'okapi')).toEqual(['The okapi was seen near the marsh']);
    expect(await found(bob.token, '"seen near"')).toHaveLength(5);
    expect(await found(owner.accessToken, 'pangolin')).toEqual([]);
    // Visibility is the search query's, not the index's: a non-member still finds nothing.
    expect(await found(carol.token, 'marsh')).toEqual([]);
    expect(await found(bob.token, 'kinka*')).toEqual(['The kinkajou was seen near the marsh']);
    // The same entries as the sends wrote (on PostgreSQL the same term rows too).
    const rows = await indexRows(owner.tenantId);
    expect(rows).toEqual(rowsAsSent);

    // As if sent before migration 0007: no index row at all.
    if (dialect === 'postgres') {
      await sql`delete from message_search_terms where tenant_id = ${owner.tenantId}`.execute(db);
      await sql`delete from message_search where tenant_id = ${owner.tenantId}`.execute(db);
      expect(await found(bob.token, 'okapi')).toEqual([]);
      expect((await reindex('--tenant', owner.tenantId)).reports[0]?.indexed).toBe(5);
      expect(await indexRows(owner.tenantId)).toEqual(rowsAsSent);
    }

    const second = await reindex();
    expect(second.reports).toEqual(
      expect.arrayContaining([
        { tenantId: owner.tenantId, examined: 1, indexed: 0, withoutWords: 1, batches: 1 },
        { tenantId: other.tenantId, examined: 0, indexed: 0, withoutWords: 0, batches: 0 },
      ]),
    );
    expect(second.reports.every((report) => report.indexed === 0)).toBe(true);
    expect(await indexRows(owner.tenantId)).toEqual(rows);
    expect(await indexRows(other.tenantId)).toEqual(otherRowsBefore);
    expect(await found(bob.token, 'marsh')).toEqual([...texts].sort());

    // --rebuild replaces every visible message's entry (after the index changed what it holds).
    const rebuilt = await reindex('--rebuild', '--tenant', owner.tenantId, '--batch', '4');
    expect(rebuilt.reports).toEqual([
      { tenantId: owner.tenantId, examined: 6, indexed: 5, withoutWords: 1, batches: 2 },
    ]);
    expect(await indexRows(owner.tenantId)).toEqual(rows);
    expect(await found(bob.token, 'marsh')).toEqual([...texts].sort());
    expect(await found(owner.accessToken, 'pangolin')).toEqual([]);
  });

  it('runs while the server sends: no send fails, the run completes, and every message keeps one entry', async () => {
    // On SQLite the command is another process writing the same database file: a transaction that read
    // before its commit and wrote after it failed with "database is locked" (SQLITE_BUSY_SNAPSHOT), on
    // whichever side lost.
    const live = await newTenantOwner(server, 'Reindex Live');
    const dialogId = await group(live.accessToken, []);
    for (let index = 0; index < 200; index += 1)
      await server.app.services.messages.send(live.tenantId, live.userId, dialogId, {
        clientId: `before-${index}`,
        body: `tamarin note ${index}`,
        mentions: [],
        attachments: [],
      });
    const run = { sending: true };
    const failures: string[] = [];
    let sentDuringRun = 0;
    const sender = (async () => {
      while (run.sending) {
        sent += 1;
        const response = await server.request(
          `/v1/dialogs/${dialogId}/messages`,
          json({ clientId: `live-${sent}`, body: `tamarin live ${sent}` }, live.accessToken),
        );
        if (response.status === 201) sentDuringRun += 1;
        else failures.push(`${response.status} ${response.text}`);
      }
    })();
    let result: Awaited<ReturnType<typeof parley>>;
    try {
      result = await parley(
        ['search', 'reindex', '--rebuild', '--tenant', live.tenantId, '--batch', '20'],
        server.database.env,
      );
    } finally {
      run.sending = false;
      await sender;
    }
    expect(result.code, result.stderr).toBe(0);
    expect(failures).toEqual([]);
    expect(sentDuringRun).toBeGreaterThan(0);
    const db = server.app.storage.kysely;
    const messages = await db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('tenant_id', '=', live.tenantId)
      .executeTakeFirstOrThrow();
    expect((await indexRows(live.tenantId)).entries).toBe(Number(messages.n));
    // Every entry kept its place: search lists the dialog newest first (ids are time-ordered), as before the
    // rebuild, not the messages rebuilt after a send as newer than it.
    const ids = await db
      .selectFrom('messages')
      .select('id')
      .where('tenant_id', '=', live.tenantId)
      .orderBy('id', 'desc')
      .execute();
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const query = new URLSearchParams({ q: 'tamarin', limit: '50', ...(cursor ? { cursor } : {}) });
      const response = await server.request(
        `/v1/search/messages?${query.toString()}`,
        bearer(live.accessToken),
      );
      expect(response.status, response.text).toBe(200);
      const page = response.json<{ results: { message: { id: string } }[]; nextCursor?: string }>();
      listed.push(...page.results.map((result) => result.message.id));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(listed).toEqual(ids.map((row) => row.id));
  });
});

// A usage error is found before the database is opened: one dialect is enough.
it('refuses a batch size that is not a positive whole number (usage error, exit 2)', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-reindex-usage-'));
  try {
    for (const batch of ['0', 'many']) {
      const result = await parley(['search', 'reindex', '--batch', batch], { PARLEY_DATA_DIR: dataDir });
      expect(result.code, batch).toBe(2);
      expect(result.stderr).toContain('--batch');
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
