import type { Http } from './bench-http.js';
import type { GrownFixture } from './grown-database.js';
import type { OpenLoopWorkload } from './open-loop.js';
import type { RateScenario, RealtimeOptions } from './realtime-options.js';
import { closeAll, LeanSocket, mapLimited } from './realtime-client.js';
import { MessagingWorkload, sendMessages } from './realtime-load.js';
import { caughtUpPosition, ResumeWorkload } from './resume-workload.js';
import { RestReadWorkload } from './rest-read-workload.js';

/** One server under test, with what the scenarios share on it. */
export interface ServerContext {
  fixture: GrownFixture;
  /** For set-up calls. */
  http: Http;
  /** The pool the REST read scenarios load (`PARLEY_BENCH_HTTP_CONNECTIONS` sockets). */
  readHttp: Http;
  options: RealtimeOptions;
  /** Messages the bench itself stored on this server so far (sends and seeding). */
  benchMessages: number;
  /** Whether the pairs' dialogs have been given `seedMessages` each. */
  seeded: boolean;
}

/** A scenario set up and ready for trials. */
export interface PreparedScenario {
  workload: OpenLoopWorkload;
  /** What one operation is, for the printed lines and figure names. */
  unit: 'messages' | 'resumes' | 'pages' | 'searches';
  /** Arrivals per operation: deliveries per message (49 in a 50-member group), else 1. */
  fanOut: number;
  /** Closes what the set-up opened; answers how many messages the scenario stored. */
  close(): Promise<number>;
}

const CONNECT_CONCURRENCY = 64;

export function connectAll(context: ServerContext, userIndices: readonly number[]): Promise<LeanSocket[]> {
  const { server, users } = context.fixture;
  return mapLimited(userIndices, CONNECT_CONCURRENCY, (index) =>
    LeanSocket.connect(server.url, server.ca, users[index]?.token ?? ''),
  );
}

const tokenOf = (context: ServerContext, index: number): string => context.fixture.users[index]?.token ?? '';
const randomInt = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

/** Each pair's dialog's last `seq`, read over REST as its first member. */
function lastSeqs(context: ServerContext): Promise<number[]> {
  return mapLimited(context.fixture.pairs, 8, async ({ dialogId, a }) => {
    const dialog = await context.http.call<{ lastSeq: number }>(`/v1/dialogs/${dialogId}`, {
      token: tokenOf(context, a),
    });
    return dialog.lastSeq;
  });
}

/**
 * A fresh database has nothing to page through, resume or search: before the first read scenario each
 * pair's dialog is topped up to `seedMessages` (its first member sends them, ordinary realtime sends).
 */
async function ensureHistory(context: ServerContext): Promise<void> {
  if (context.seeded) return;
  context.seeded = true;
  const seqs = await lastSeqs(context);
  const short = context.fixture.pairs
    .map((pair, index) => ({ ...pair, missing: context.options.seedMessages - (seqs[index] ?? 0) }))
    .filter(({ missing }) => missing > 0);
  if (short.length === 0) return;
  const started = performance.now();
  await mapLimited(short, 8, async ({ dialogId, a, missing }) => {
    const [socket] = await connectAll(context, [a]);
    if (!socket) return;
    await sendMessages(socket, dialogId, missing);
    await closeAll([socket]);
    context.benchMessages += missing;
  });
  const total = short.reduce((sum, { missing }) => sum + missing, 0);
  console.log(
    `realtime: seeded ${total.toLocaleString('en-US')} messages into ${short.length} dialogs for the read ` +
      `scenarios in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

function messagingScenario(
  workload: MessagingWorkload,
  sockets: readonly LeanSocket[],
  fanOut: number,
): PreparedScenario {
  return {
    workload,
    unit: 'messages',
    fanOut,
    close: async () => {
      workload.stop();
      await closeAll(sockets);
      return workload.sentTotal;
    },
  };
}

/** 1:1: every pair's two members connected, both sending into their private dialog. */
async function pairs(context: ServerContext): Promise<PreparedScenario> {
  const { pairs: dialogs } = context.fixture;
  const sockets = await connectAll(
    context,
    dialogs.flatMap(({ a, b }) => [a, b]),
  );
  const senders = dialogs.flatMap(({ dialogId }, pair) =>
    [sockets[pair * 2], sockets[pair * 2 + 1]].map((socket) => ({
      socket: socket as LeanSocket,
      dialogId,
      recipients: 1,
    })),
  );
  return messagingScenario(new MessagingWorkload(senders, sockets), sockets, 1);
}

/** A room: every member of the group connected, one of them sending. */
async function group(context: ServerContext): Promise<PreparedScenario> {
  const room = context.fixture.group;
  if (!room) throw new Error('the fixture has no group (PARLEY_BENCH_GROUP_SIZE=0)');
  const sockets = await connectAll(context, room.memberIndices);
  const recipients = room.memberIndices.length - 1;
  const senders = [{ socket: sockets[0] as LeanSocket, dialogId: room.dialogId, recipients }];
  return messagingScenario(new MessagingWorkload(senders, sockets), sockets, recipients);
}

/**
 * Resume after a disconnect: each pair's first member comes back `resumeMissed` positions behind the end of
 * its dialog (what arrived while it was away) and is timed until it has caught up.
 */
async function resume(context: ServerContext): Promise<PreparedScenario> {
  await ensureHistory(context);
  const { server, pairs: dialogs } = context.fixture;
  const [first] = await connectAll(context, [dialogs[0]?.a ?? 0]);
  const epoch = first?.epoch ?? '';
  await closeAll(first ? [first] : []);
  const seqs = await lastSeqs(context);
  const targets = await mapLimited(dialogs, 8, async ({ dialogId, a }, index) => {
    const from = Math.max(0, (seqs[index] ?? 0) - context.options.resumeMissed);
    const target = { token: tokenOf(context, a), dialogId, epoch, from };
    const { until, frames } = await caughtUpPosition(server, target);
    return { ...target, until, frames };
  });
  const frames = targets.reduce((sum, target) => sum + target.frames, 0) / Math.max(1, targets.length);
  console.log(`realtime: resume replays ${frames.toFixed(1)} frames on average (${targets.length} members)`);
  return {
    workload: new ResumeWorkload(server, targets),
    unit: 'resumes',
    fanOut: 1,
    close: () => Promise.resolve(0),
  };
}

function readScenario(
  context: ServerContext,
  unit: 'pages' | 'searches',
  next: () => { path: string; token: string },
): PreparedScenario {
  return {
    workload: new RestReadWorkload(context.readHttp, next),
    unit,
    fanOut: 1,
    close: () => Promise.resolve(0),
  };
}

/** History pages: a page of `historyPageSize` before a cursor at a random depth of a random pair's dialog. */
async function history(context: ServerContext): Promise<PreparedScenario> {
  await ensureHistory(context);
  const seqs = await lastSeqs(context);
  const { pairs: dialogs } = context.fixture;
  const size = context.options.historyPageSize;
  return readScenario(context, 'pages', () => {
    const index = randomInt(0, dialogs.length - 1);
    const { dialogId, a, b } = dialogs[index] ?? { dialogId: '', a: 0, b: 0 };
    const last = seqs[index] ?? 0;
    const before = randomInt(Math.min(last, size + 1), last);
    return {
      path: `/v1/dialogs/${dialogId}/messages?before=${before}&limit=${size}`,
      token: tokenOf(context, Math.random() < 0.5 ? a : b),
    };
  });
}

/** Distinct words (letters only, 4 or more) of the message bodies on one history page. */
function wordsOf(page: { messages: { body: string | null }[] }): string[] {
  const words = new Set<string>();
  for (const { body } of page.messages)
    for (const word of body?.toLowerCase().match(/\p{L}{4,}/gu) ?? []) words.add(word);
  return [...words];
}

const SEARCH_SAMPLE_PAGES = 40;
const SEARCH_WORDS = 200;

/**
 * Search: a word that is in the searcher's own history, over all the member's dialogs, first page of 20.
 * Words come from `SEARCH_SAMPLE_PAGES` pages read at random depths of random pairs' dialogs; each page's
 * distinct words are candidates, so a word is drawn as often as the pages it is on (a common word on every
 * page, a rare one on one): about half the searches are for common words, half for rare ones.
 */
async function search(context: ServerContext): Promise<PreparedScenario> {
  await ensureHistory(context);
  const seqs = await lastSeqs(context);
  const { pairs: dialogs } = context.fixture;
  const samples = await mapLimited(
    Array.from({ length: SEARCH_SAMPLE_PAGES }, () => randomInt(0, dialogs.length - 1)),
    8,
    async (index) => {
      const { dialogId, a } = dialogs[index] ?? { dialogId: '', a: 0 };
      const before = randomInt(Math.min(seqs[index] ?? 0, 51), seqs[index] ?? 0);
      const page = await context.http.call<{ messages: { body: string | null }[] }>(
        `/v1/dialogs/${dialogId}/messages?before=${before}&limit=50`,
        { token: tokenOf(context, a) },
      );
      return wordsOf(page).map((word) => ({ word, token: tokenOf(context, a) }));
    },
  );
  const candidates = samples.flat();
  const queries = Array.from({ length: Math.min(SEARCH_WORDS, candidates.length) }, () => {
    const pick = candidates[randomInt(0, candidates.length - 1)];
    return pick ?? { word: '', token: '' };
  });
  if (queries.length === 0) throw new Error('search: no words found in the history');
  console.log(
    `realtime: search over ${queries.length} words seen in the history, e.g. ${queries
      .slice(0, 5)
      .map((q) => q.word)
      .join(', ')}`,
  );
  return readScenario(context, 'searches', () => {
    const { word, token } = queries[randomInt(0, queries.length - 1)] ?? { word: '', token: '' };
    return { path: `/v1/search/messages?q=${encodeURIComponent(word)}&limit=20`, token };
  });
}

/** How each rate scenario is set up: one row per scenario. */
export const scenarioSetups: Record<RateScenario, (context: ServerContext) => Promise<PreparedScenario>> = {
  pairs,
  group,
  resume,
  history,
  search,
};
