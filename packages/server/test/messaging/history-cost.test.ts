import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAttachmentSharing } from '../../src/attachments/attachment-sharing.ts';
import { createMessageStream } from '../../src/messaging/message-stream.ts';
import { PostgresSearchIndex } from '../../src/messaging/search/postgres-search-index.ts';
import { SearchTokenHasher } from '../../src/messaging/search/search-token-hasher.ts';
import { SqliteSearchIndex } from '../../src/messaging/search/sqlite-search-index.ts';
import type { TenantTx } from '../../src/storage/database.ts';
import { describeEachDialect } from '../support/dialects.ts';
import {
  addPrivateDialogs,
  type GrowthDeps,
  growDialog,
  type GrownDialog,
  refreshStatistics,
} from '../support/history-growth.ts';
import { json, newMember, newTenantOwner } from '../support/identity-fixtures.ts';
import { historyOperations, type Moment, must, type Scene } from '../support/history-operations.ts';
import { commonWordSearches } from '../support/history-search-operations.ts';
import { maxCandidates } from '../../src/messaging/search/search-index.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { measureOperations, type MeasuredStatement } from '../support/statement-cost.ts';

/**
 * Issue 11: after one tenant had stored about 45,000 messages, a send and its delivery cost several times what
 * they cost on a fresh database, because statements on those paths read rows in proportion to everything the
 * tenant ever stored (the delivery read walked the tenant's whole history through an index on `tenant_id`,
 * then windowed it). The promise: what a send, a delivery read, a resume, a history page, a search, the
 * dialogs list and receipts touch does not depend on how much history there is.
 *
 * The tenant's history is grown ten-fold — deeper in the dialogs read, and in ten times as many other
 * dialogs — and every statement of each of those operations is measured at both sizes, in the transaction
 * that runs it, just before it runs:
 * - PostgreSQL: the statement under `EXPLAIN ANALYZE` (in a savepoint rolled back, so writes count too, under
 *   row-level security like the real one); rows touched = rows every table scan returned or filtered out,
 *   times its loops. No statement touches much more at ten times the history (see `allowedRows`).
 * - SQLite: better-sqlite3 exposes no row counters, so the plan must follow a rule that bounds it (see
 *   `sqlitePlanProblems`): every access to a table that grows with history is an index search on a key that
 *   bounds it (an id, a message's id, a dialog and a stretch of its sequence numbers with a LIMIT that stops
 *   the walk) — never a scan, never a search on `tenant_id` alone.
 */

/**
 * At size 1: messages and events per dialog, in the three dialogs the operations use and in the other
 * dialogs of the tenant that have history; other dialogs in all (one-to-one dialogs of other people). At size
 * 10, the dialogs used are ten times as deep, and there are ten times as many of the others.
 */
const DEPTH = 250;
const OTHER_DIALOGS = 100;
const OTHER_DIALOGS_WITH_HISTORY = 8;
const GROWTH = 10;
/**
 * At ten times the history, a statement that reads in proportion to it touches ten times the rows. One that
 * does not may still touch a few more: PostgreSQL's statistics change as the tables grow, and it may switch
 * between two bounded plans (a member row found by its dialog, or among the user's memberships). Allowed:
 * twice the rows, plus two.
 */
const allowedRows = (rowsBefore: number) => 2 * rowsBefore + 2;

/**
 * SQLite plans that read a range of a dialog's stream without a LIMIT by design, with the reason. (On
 * PostgreSQL their rows are measured like every other statement's.)
 */
const unboundedByDesign = [
  {
    statement: /^select count\(\*\) as "n" from "messages"/,
    reason:
      'the unread count of a dialog counts the messages above the reader’s read position: it costs what the ' +
      'reader has not read (kept the same at both sizes here), not the history before it',
  },
];

/** The hot paths, then searches for words every grown message holds (their matches grow with history). */
const operations = [...historyOperations, ...commonWordSearches];

/**
 * What a search may touch on PostgreSQL, whatever the history: it examines at most `maxCandidates`
 * candidates, each for at most two probes of the terms index per query word (up to four: its newest entry
 * below the walk's position, and whether it holds the candidate), then one row each of the message, the
 * caller's membership, its dialog, "deleted for me" and its index entry; the page itself (its messages,
 * reactions, attachments) a few hundred more. Reading every match of a word that 22,000 messages hold costs
 * more than this on its own.
 */
const searchRowsAllowed = (words: number) => maxCandidates * (2 * Math.min(words, 4) + 5) + 1_000;

describeEachDialect('cost that does not grow with history', (dialect) => {
  let server: TestServer;
  let scene: Scene;
  let growth: GrowthDeps;
  const measured = new Map<number, MeasuredStatement[]>();
  /** Messages that hold the word every grown message holds, at ten times the history. */
  let matchesAtGrowth = 0;

  const readInTenant = <T>(read: (tx: TenantTx) => Promise<T>) =>
    server.app.storage.withTenant(scene.owner.tenantId, read);
  const lastSeqOf = async (dialogId: string) =>
    (
      await readInTenant((tx) =>
        tx.selectFrom('dialogs').select('last_seq').where('id', '=', dialogId).executeTakeFirstOrThrow(),
      )
    ).last_seq;
  /** The message at `seq` or the last one before it (events take sequence numbers too). */
  const messageIdAt = async (dialogId: string, seq: number) =>
    (
      await readInTenant((tx) =>
        tx
          .selectFrom('messages')
          .select('id')
          .where('dialog_id', '=', dialogId)
          .where('seq', '<=', seq)
          .orderBy('seq', 'desc')
          .limit(1)
          .executeTakeFirstOrThrow(),
      )
    ).id;

  /** Grows the tenant to `size` times the history of size 1. */
  async function growTo(size: number, others: GrownDialog[]) {
    const { owner, bob, carol, dialogs } = scene;
    const base = Date.now() - 10 * 365 * 24 * 3600 * 1000;
    for (const id of Object.values(dialogs)) {
      const dialog = { id, memberIds: [owner.userId, bob.userId, carol.userId] };
      await growDialog(growth, owner.tenantId, dialog, DEPTH * size, base);
    }
    const more = OTHER_DIALOGS * size - others.length;
    others.push(...(await addPrivateDialogs(server.app.storage, owner.tenantId, more, base)));
    for (const other of others.slice(0, OTHER_DIALOGS_WITH_HISTORY * size))
      await growDialog(growth, owner.tenantId, other, DEPTH, base);
    // Bob has read all but the last few of each dialog, at every size: the unread count costs the unread.
    await readInTenant((tx) =>
      sql`update dialog_members set read_seq = (select last_seq - 5 from dialogs where dialogs.id = dialog_id)
        where tenant_id = ${owner.tenantId} and user_id = ${bob.userId}`.execute(tx),
    );
    await refreshStatistics(server.app.storage);
    // SQLite grows synchronously, holding the event loop longer than the server's keep-alive deadline: let
    // the timers that expired meanwhile close the idle connections (and the client see them closed), or the
    // next request goes out on a connection the server is closing (ECONNRESET).
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
  }

  /** Every operation, with each of its statements measured; `word` is new at this size. */
  async function measure(size: number, word: string) {
    const lastSeq = await lastSeqOf(scene.dialogs.group);
    const moment: Moment = {
      server,
      stream: createMessageStream({
        storage: server.app.storage,
        fieldCipher: server.app.security.fieldCipher,
        attachments: createAttachmentSharing({
          fieldCipher: server.app.security.fieldCipher,
          dialect: server.app.storage.dialect,
        }),
      }),
      scene,
      word,
      lastSeq,
      replyTo: await messageIdAt(scene.dialogs.group, lastSeq - 2),
      around: await messageIdAt(scene.dialogs.group, lastSeq - 60),
      beforeBatch: new Map(),
      sent: '',
    };
    for (const id of Object.values(scene.dialogs)) moment.beforeBatch.set(id, await lastSeqOf(id));
    // The REST send comes first, into the one-to-one dialog: the delivery read starts after it.
    moment.beforeBatch.set(scene.dialogs.pair, (moment.beforeBatch.get(scene.dialogs.pair) ?? 0) + 1);
    const results = await measureOperations(
      server.app.storage,
      operations.map(({ name, run }) => ({ name, run: () => run(moment) })),
    );
    measured.set(size, results);
  }

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    const owner = await newTenantOwner(server, 'History Clinic');
    const bob = await newMember(server, owner, 'bob@history.example');
    const carol = await newMember(server, owner, 'carol@history.example');
    const create = async (body: Record<string, unknown>) =>
      (await must(server, '/v1/dialogs', json(body, owner.accessToken))).json<{ id: string }>().id;
    const members = [bob.userId, carol.userId];
    scene = {
      owner,
      bob,
      carol,
      dialogs: {
        pair: await create({ type: 'private', memberIds: [bob.userId] }),
        group: await create({ type: 'group', name: 'Ward', memberIds: members }),
        hidden: await create({ type: 'group', name: 'Board', memberIds: members, hideHistory: true }),
      },
    };
    const hasher = new SearchTokenHasher(server.app.security.keyring);
    growth = {
      storage: server.app.storage,
      fieldCipher: server.app.security.fieldCipher,
      index: dialect === 'postgres' ? new PostgresSearchIndex(hasher) : new SqliteSearchIndex(hasher),
    };
    const others: GrownDialog[] = [];
    await growTo(1, others);
    await measure(1, 'tangerine');
    await growTo(GROWTH, others);
    matchesAtGrowth = Number(
      (
        await readInTenant((tx) =>
          tx
            .selectFrom('messages')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('tenant_id', '=', scene.owner.tenantId)
            .where('client_id', 'like', 'grown-%')
            .executeTakeFirstOrThrow(),
        )
      ).n,
    );
    await measure(GROWTH, 'pomegranate');
  }, 300_000);

  afterAll(async () => {
    await server.close();
  });

  const statementsOf = (size: number, name: string) =>
    (measured.get(size) ?? []).filter((entry) => entry.operation === name);

  /** SQLite: what breaks the plan rule in the operation's statements, at both sizes. */
  const sqlitePlanProblemsOf = (name: string) => {
    const problems = [1, GROWTH].flatMap((size) =>
      statementsOf(size, name)
        .filter((entry) => !unboundedByDesign.some(({ statement }) => statement.test(entry.sql)))
        .flatMap((entry) => entry.problems.map((problem) => `${problem}\n    in: ${entry.sql}`)),
    );
    return [...new Set(problems)];
  };

  for (const { name } of historyOperations) {
    if (dialect === 'postgres') {
      it(`${name}: every statement touches about as many rows at ${GROWTH}× the history`, () => {
        const small = new Map(statementsOf(1, name).map((entry) => [entry.key, entry]));
        const large = statementsOf(GROWTH, name);
        expect(large.length, 'statements measured').toBeGreaterThan(0);
        const grown = large.flatMap((entry) => {
          if (!entry.cost) return [`not measured (EXPLAIN failed): ${entry.sql}`];
          // A statement may run at one size only (a cache was cold): then it is held to a handful of rows.
          const rowsBefore = small.get(entry.key)?.cost?.rows ?? 0;
          if (entry.cost.rows <= allowedRows(rowsBefore)) return [];
          const scans = entry.cost.scans.map((scan) => `${scan.node}: ${scan.rows}`).join('; ');
          return [`${rowsBefore} → ${entry.cost.rows} rows: ${entry.sql}\n    ${scans}`];
        });
        expect(grown, grown.join('\n')).toEqual([]);
      });
    } else {
      it(`${name}: every plan reads a bounded part of each table that grows with history`, () => {
        expect(statementsOf(GROWTH, name).length, 'statements measured').toBeGreaterThan(0);
        const problems = sqlitePlanProblemsOf(name);
        expect(problems, problems.join('\n')).toEqual([]);
      });
    }
  }

  // A search examines at most `maxCandidates` candidates, so what it touches has a bound that history does
  // not move; up to the cap it touches more as it finds its page further down (the searcher sees fewer of the
  // newest matches at 10× here), so the rows of the two sizes are not compared.
  for (const { name, words } of commonWordSearches) {
    if (dialect === 'postgres') {
      it(`${name}: touches at most ${searchRowsAllowed(words)} rows, though ${GROWTH}× the history holds more matches`, () => {
        expect(matchesAtGrowth).toBeGreaterThan(10 * maxCandidates);
        const large = statementsOf(GROWTH, name);
        expect(large.length, 'statements measured').toBeGreaterThan(0);
        const unmeasured = large.filter((entry) => !entry.cost).map((entry) => entry.sql);
        expect(unmeasured, 'not measured (EXPLAIN failed)').toEqual([]);
        const rows = large.reduce((sum, entry) => sum + (entry.cost?.rows ?? 0), 0);
        const largest = large
          .flatMap((entry) => entry.cost?.scans ?? [])
          .sort((a, b) => b.rows - a.rows)
          .slice(0, 6)
          .map((scan) => `${scan.node}: ${scan.rows}`);
        expect(rows, `largest scans: ${largest.join('; ')}`).toBeLessThanOrEqual(searchRowsAllowed(words));
      });
    } else {
      it(`${name}: every plan walks the full-text index newest first and stops`, () => {
        expect(matchesAtGrowth).toBeGreaterThan(10 * maxCandidates);
        expect(statementsOf(GROWTH, name).length, 'statements measured').toBeGreaterThan(0);
        const problems = sqlitePlanProblemsOf(name);
        expect(problems, problems.join('\n')).toEqual([]);
      });
    }
  }
});
