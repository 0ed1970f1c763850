import { once } from 'node:events';
import type { HistoryPage, MessageBody, ServerFrame } from '@parley/protocol';
import WebSocket, { type ClientOptions } from 'ws';
import { type GrownFixture, startGrownServer } from './grown-database.js';
import { GrownHttp } from './grown-http.js';
import { textTokens } from '../packages/server/src/messaging/search/search-tokens.js';
import type { BenchStorage } from './server-process.js';

/**
 * `node --import tsx bench/grown-check.ts [messages] [sqlite|postgres+redis …]` (shape: PARLEY_BENCH_PAIRS,
 * default 4, and PARLEY_BENCH_GROUP_SIZE, default 5): grows (or takes from the cache) a database and reads it back through the real server, as the realtime bench will: users
 * sign in, history pages come back decrypted with edits, deletions and reactions, a grown word is found by
 * search, and a new send takes the next sequence number after the grown ones. Throws on the first mismatch.
 */
const [messagesArgument, ...storageArguments] = process.argv.slice(2);
const messages = Number(messagesArgument ?? 20_000);
const storages = (
  storageArguments.length > 0 ? storageArguments : ['sqlite', 'postgres+redis']
) as BenchStorage[];
const postgresUrl = process.env.PARLEY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.PARLEY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const pairs = Number(process.env.PARLEY_BENCH_PAIRS ?? 4);
const groupSize = Number(process.env.PARLEY_BENCH_GROUP_SIZE ?? 5);

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`grown-check: ${what}`);
}

/** Pages back through a dialog's whole history from the newest page: every seq of a message once. */
async function readAll(http: GrownHttp, token: string, dialogId: string): Promise<MessageBody[]> {
  const all: MessageBody[] = [];
  let before: number | null = null;
  for (;;) {
    const query: string = before === null ? 'limit=100' : `limit=100&before=${before}`;
    const page: HistoryPage = await http.call<HistoryPage>(`/v1/dialogs/${dialogId}/messages?${query}`, {
      token,
    });
    all.push(...page.messages);
    if (page.messages.length === 0 || page.oldestSeq === null) return all;
    before = page.oldestSeq;
  }
}

/** Frames of one realtime connection that authenticates with `positions`, until `done` says enough. */
async function realtimeFrames(
  fixture: GrownFixture,
  token: string,
  positions: Record<string, { seq: number; epoch: string }> | undefined,
  done: (frames: ServerFrame[]) => boolean,
): Promise<ServerFrame[]> {
  const { server } = fixture;
  // ws hands unknown options on to tls.connect: the certificate names localhost, the URL an address.
  const options: ClientOptions & { servername?: string } =
    server.ca === '' ? {} : { ca: server.ca, servername: 'localhost' };
  const ws = new WebSocket(`${server.wsUrl}/v1/realtime`, options);
  const frames: ServerFrame[] = [];
  const finished = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`grown-check: realtime gave ${frames.length} frames in 20 s`));
    }, 20_000);
    ws.on('message', (data: Buffer) => {
      frames.push(JSON.parse(data.toString('utf8')) as ServerFrame);
      if (done(frames)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await once(ws, 'open');
  ws.send(JSON.stringify({ type: 'auth', token, positions }));
  try {
    await finished;
  } finally {
    ws.close();
  }
  return frames;
}

/** A client 300 sequence numbers behind resumes: every seq after its position arrives once, in order. */
async function checkResume(fixture: GrownFixture, token: string, dialogId: string, lastSeq: number) {
  const [ready] = await realtimeFrames(fixture, token, undefined, (frames) => frames.length > 0);
  check(ready?.type === 'ready', 'no ready frame');
  const epoch = ready?.type === 'ready' ? ready.epoch : '';
  const from = lastSeq - 300;
  const frames = await realtimeFrames(fixture, token, { [dialogId]: { seq: from, epoch } }, (received) =>
    received.some((frame) => 'seq' in frame && frame.seq === lastSeq),
  );
  const seqs = frames.flatMap((frame) =>
    'dialogId' in frame && 'seq' in frame && 'epoch' in frame && frame.dialogId === dialogId
      ? [frame.seq]
      : [],
  );
  check(
    seqs.length === 300 && seqs.every((seq, index) => seq === from + 1 + index),
    `resume from ${from}: seqs ${seqs[0]}…${seqs.at(-1)} (${seqs.length})`,
  );
  const kinds = new Set(frames.map((frame) => frame.type));
  return [...kinds].filter((kind) => kind.startsWith('message.')).join(', ');
}

async function checkFixture(fixture: GrownFixture): Promise<string> {
  const { server, users, pairs, group } = fixture;
  const http = new GrownHttp(server.url, server.ca);
  try {
    const pair = pairs[0];
    check(pair !== undefined, 'no pair');
    const token = users[pair?.a ?? 0]?.token ?? '';
    const history = await readAll(http, token, pair?.dialogId ?? '');
    const seqs = history.map((message) => message.seq);
    check(new Set(seqs).size === seqs.length, 'a seq twice in the history');
    const live = history.filter((message) => !message.deleted);
    check(
      live.every((message) => typeof message.body === 'string' && message.body.length > 0),
      'an empty body',
    );
    const edited = history.filter((message) => message.editedAt !== null).length;
    const deleted = history.length - live.length;
    const reacted = history.filter((message) => message.reactions.length > 0).length;
    check(
      edited > 0 && deleted > 0 && reacted > 0,
      `no edits/deletions/reactions (${edited}/${deleted}/${reacted})`,
    );
    // A rare word of an old message: found by search, in the right message.
    const target = live[Math.floor(live.length / 3)];
    const word = textTokens(target?.body ?? '').sort((x, y) => y.length - x.length)[0] ?? '';
    const found = await http.call<{ results: { message: MessageBody }[] }>(
      `/v1/search/messages?q=${encodeURIComponent(word)}&dialogId=${pair?.dialogId}&limit=50`,
      { token },
    );
    check(
      found.results.some((result) => result.message.id === target?.id),
      `search for "${word}" missed message ${target?.id}`,
    );
    const prefix = await http.call<{ results: unknown[] }>(
      `/v1/search/messages?q=${encodeURIComponent(`${word.slice(0, 4)}*`)}&limit=5`,
      { token },
    );
    check(prefix.results.length > 0, `prefix search for "${word.slice(0, 4)}*" found nothing`);
    // A new message follows the grown stream without a gap.
    const dialog = await http.call<{ lastSeq: number; unreadCount: number }>(
      `/v1/dialogs/${pair?.dialogId}`,
      {
        token,
      },
    );
    const sent = await http.call<MessageBody>(`/v1/dialogs/${pair?.dialogId}/messages`, {
      token,
      json: { clientId: 'grown-check', body: `checking ${word}` },
    });
    check(sent.seq === dialog.lastSeq + 1, `sent seq ${sent.seq} after lastSeq ${dialog.lastSeq}`);
    const resumed = await checkResume(fixture, token, pair?.dialogId ?? '', sent.seq);
    if (group) {
      const member = users[group.memberIndices.at(-1) ?? 0]?.token ?? '';
      const page = await http.call<HistoryPage>(`/v1/dialogs/${group.dialogId}/messages?limit=50`, {
        token: member,
      });
      check(page.messages.length === 50, 'group history page short');
    }
    return (
      `pair history ${history.length} messages (${edited} edited, ${deleted} deleted, ${reacted} with reactions), ` +
      `search "${word}" → ${found.results.length} hits, unread ${dialog.unreadCount}, next seq ${sent.seq}, ` +
      `resume of 300 seqs gave ${resumed}`
    );
  } finally {
    await http.close();
  }
}

for (const storage of storages) {
  for (const tls of [false, true]) {
    const fixture = await startGrownServer({
      storage,
      postgresUrl,
      redisUrl,
      messages,
      pairs,
      groupSize,
      tls,
      serverEnv: { PARLEY_SEND_RATE_PER_SECOND: '1000000', PARLEY_SEND_BURST: '1000000' },
      serverCpus: '0',
    });
    try {
      check(fixture.storedMessages === messages, `stored ${fixture.storedMessages}, asked ${messages}`);
      console.log(`grown-check: ${storage}, ${fixture.server.url}: ${await checkFixture(fixture)}`);
    } finally {
      await fixture.server.stop();
    }
  }
}
process.exit(0);
