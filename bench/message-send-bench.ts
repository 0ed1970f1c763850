import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import pg from 'pg';
import { createApp } from '../packages/server/src/app.js';
import { loadConfig } from '../packages/server/src/config.js';
import type { DialectName } from '../packages/server/src/storage/dialects/dialect-adapter.js';

/**
 * `node --import tsx bench/message-send-bench.ts [sqlite|postgres ...]`: the durable send path alone, in
 * process — `messages.send` as the REST route and the realtime handler call it, without TLS, sockets or
 * deliveries (nobody is connected). 100 users in 50 private dialogs; each user keeps IN_FLIGHT sends
 * outstanding (a closed loop) for WINDOW_SECONDS after a warm-up. Prints sends/s, send latency and how many
 * tenant transactions committed per second (sends per transaction = the group-commit batch size).
 * Isolates cause 2 of docs/performance.md ("every send is its own transaction"), which the WSS bench mixes
 * with delivery and socket costs.
 */
const USERS = 100;
const IN_FLIGHT = Number(process.env.PARLEY_BENCH_SEND_IN_FLIGHT ?? 4);
const WARMUP_SECONDS = 2;
const WINDOW_SECONDS = Number(process.env.PARLEY_BENCH_WINDOW_SECONDS ?? 5);
const postgresUrl = process.env.PARLEY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const discard = new Writable({
  write(_chunk, _encoding, callback) {
    callback();
  },
});

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

async function benchSends(dialect: DialectName): Promise<Record<string, number>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-send-bench-'));
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const app = await createApp(
    loadConfig({
      PARLEY_LOG_LEVEL: 'silent',
      // The bench's users send far faster than a person: the per-user send limit is raised.
      PARLEY_SEND_RATE_PER_SECOND: '1000000',
      PARLEY_SEND_BURST: '1000000',
      PARLEY_DATA_DIR: dataDir,
      ...(dialect === 'postgres' ? { DATABASE_URL: postgresUrl, PARLEY_DATABASE_SCHEMA: schema } : {}),
    }),
    { logDestination: discard },
  );
  try {
    const { tenantId } = await app.tenants.createTenant('Send Bench');
    const users: string[] = [];
    for (let index = 0; index < USERS; index += 1)
      users.push((await app.services.users.createUser(tenantId, { displayName: `user ${index}` })).id);
    const dialogOf = new Map<string, string>();
    for (let index = 0; index < USERS; index += 2) {
      const [a = '', b = ''] = [users[index], users[index + 1]];
      const { id } = await app.services.dialogs.create(tenantId, a, {
        type: 'private',
        memberIds: [b],
        hideHistory: false,
      });
      dialogOf.set(a, id);
      dialogOf.set(b, id);
    }

    let transactions = 0;
    const withTenant = app.storage.withTenant.bind(app.storage);
    app.storage.withTenant = async (id, work) => {
      const result = await withTenant(id, work);
      transactions += 1;
      return result;
    };

    let measuring = false;
    let stopped = false;
    let sent = 0;
    const latencies: number[] = [];
    let counter = 0;
    const loop = async (userId: string) => {
      const dialogId = dialogOf.get(userId) ?? '';
      while (!stopped) {
        // As a request would: the next send arrives in a later event-loop turn (and timers get to run,
        // which an all-synchronous SQLite send loop would otherwise starve).
        await nextTurn();
        const started = performance.now();
        await app.services.messages.send(tenantId, userId, dialogId, {
          clientId: `c-${(counter += 1)}`,
          body: 'The quick brown fox jumps over the lazy dog',
          mentions: [],
          attachments: [],
        });
        // Every send acknowledged inside the window counts, wherever it started.
        if (measuring) {
          sent += 1;
          latencies.push(performance.now() - started);
        }
      }
    };
    const loops = users.flatMap((userId) => Array.from({ length: IN_FLIGHT }, () => loop(userId)));
    await new Promise((resolve) => setTimeout(resolve, WARMUP_SECONDS * 1000));
    const cpuBefore = process.cpuUsage();
    const transactionsBefore = transactions;
    measuring = true;
    await new Promise((resolve) => setTimeout(resolve, WINDOW_SECONDS * 1000));
    measuring = false;
    const cpu = process.cpuUsage(cpuBefore);
    const committed = transactions - transactionsBefore;
    stopped = true;
    await Promise.all(loops);
    latencies.sort((a, b) => a - b);
    return {
      sendsPerSecond: Math.round(sent / WINDOW_SECONDS),
      transactionsPerSecond: Math.round(committed / WINDOW_SECONDS),
      sendsPerTransaction: Math.round((sent / Math.max(1, committed)) * 10) / 10,
      sendP50Ms: Math.round(percentile(latencies, 50) * 100) / 100,
      sendP99Ms: Math.round(percentile(latencies, 99) * 100) / 100,
      processCpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / (WINDOW_SECONDS * 1000)) * 100),
    };
  } finally {
    await app.shutdown();
    if (dialect === 'postgres') {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`).finally(() => client.end());
    }
    await rm(dataDir, { recursive: true, force: true });
  }
}

const dialects = (process.argv.length > 2 ? process.argv.slice(2) : ['sqlite', 'postgres']) as DialectName[];
console.log(`message sends: ${USERS} users in ${USERS / 2} private dialogs, ${IN_FLIGHT} in flight each`);
for (const dialect of dialects) {
  const figures = await benchSends(dialect);
  for (const [name, value] of Object.entries(figures))
    console.log(`  ${dialect} ${name.padEnd(24)} ${value}`);
}
