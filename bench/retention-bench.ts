import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDialogBody, sendMessageBody } from '@parley/protocol';
import pg from 'pg';
import { type App, createApp } from '../packages/server/src/app.js';
import { loadConfig } from '../packages/server/src/config.js';

/** Old messages the sweeper deletes (PARLEY_BENCH_RETENTION_MESSAGES; the issue asks 1,000,000). */
const OLD_MESSAGES = Number(process.env.PARLEY_BENCH_RETENTION_MESSAGES ?? 100_000);
/**
 * Stop the sweep after this many seconds (PARLEY_BENCH_RETENTION_SWEEP_SECONDS; unset: sweep to the end) and
 * report the sends during that window: the send latency while a large backlog is being swept, without waiting
 * for all of it (the sweep resumes at the next run anyway).
 */
const SWEEP_SECONDS = Number(process.env.PARLEY_BENCH_RETENTION_SWEEP_SECONDS ?? 0);
const DIALOGS = 20;
const INSERT_BATCH = 1000;
const DAY = 86_400_000;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Old messages written straight into the tables (a year old), in the dialogs sends then go to. */
async function seed(app: App) {
  const { services, tenants, storage } = app;
  const { tenantId } = await tenants.createTenant('Retention Bench');
  const sender = (
    await services.users.createUser(tenantId, { displayName: 'Sender', email: 's@bench.example' })
  ).id;
  const dialogs: string[] = [];
  for (let n = 0; n < DIALOGS; n += 1)
    dialogs.push(
      (
        await services.dialogs.create(
          tenantId,
          sender,
          createDialogBody.parse({ type: 'group', name: `R${n}` }),
        )
      ).id,
    );
  const old = Date.now() - 365 * DAY;
  const perDialog = Math.ceil(OLD_MESSAGES / DIALOGS);
  for (const [d, dialogId] of dialogs.entries()) {
    for (let start = 0; start < perDialog; start += INSERT_BATCH) {
      const rows = Array.from({ length: Math.min(INSERT_BATCH, perDialog - start) }, (_, i) => ({
        id: randomUUID(),
        tenant_id: tenantId,
        dialog_id: dialogId,
        seq: start + i + 1,
        sender_id: sender,
        client_id: `old-${d}-${start + i}`,
        body: randomBytes(48).toString('base64'),
        reply_to: null,
        mentions: '[]',
        properties: null,
        created_at: old + start + i,
        edited_at: null,
        deleted_at: null,
      }));
      await storage.withTenant(tenantId, (tx) => tx.insertInto('messages').values(rows).execute());
    }
    await storage.withTenant(tenantId, (tx) =>
      tx.updateTable('dialogs').set({ last_seq: perDialog }).where('id', '=', dialogId).execute(),
    );
  }
  return { tenantId, sender, dialogs, seeded: perDialog * DIALOGS };
}

/** Sends one after another into the bench's dialogs until `until` resolves; each send's latency in ms. */
async function sendWhile(
  app: App,
  tenantId: string,
  sender: string,
  dialogs: string[],
  until: Promise<unknown>,
) {
  const latencies: number[] = [];
  const state = { done: false };
  void until.finally(() => {
    state.done = true;
  });
  let n = 0;
  while (!state.done) {
    const input = sendMessageBody.parse({ clientId: `live-${randomUUID()}`, body: `live message ${n}` });
    const started = performance.now();
    await app.services.messages.send(tenantId, sender, dialogs[n % dialogs.length] ?? '', input);
    latencies.push(performance.now() - started);
    n += 1;
  }
  return latencies.sort((a, b) => a - b);
}

/**
 * `npm run bench -- retention`: send latency while the retention sweeper deletes old messages. Seeds
 * `PARLEY_BENCH_RETENTION_MESSAGES` year-old messages in 20 dialogs, sets a 30-day message rule, then runs
 * the sweep while one sender sends into the same dialogs (each send and each sweeper batch take the dialog's
 * lock): the send p50/p99 during the sweep beside a baseline of as many seconds without it.
 */
export async function runRetentionBench(): Promise<Record<string, number>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-retention-bench-'));
  const databaseUrl = process.env.PARLEY_BENCH_DATABASE_URL;
  const schema = databaseUrl ? `bench_${randomBytes(4).toString('hex')}` : undefined;
  const app = await createApp(
    loadConfig({
      PARLEY_DATA_DIR: dataDir,
      PARLEY_HOST: '127.0.0.1',
      PARLEY_PORT: '0',
      PARLEY_LOG_LEVEL: 'warn',
      PARLEY_SEND_RATE_PER_SECOND: '1000000',
      PARLEY_SEND_BURST: '1000000',
      PARLEY_JOB_POLL_INTERVAL_MS: '10000',
      ...(databaseUrl && schema ? { DATABASE_URL: databaseUrl, PARLEY_DATABASE_SCHEMA: schema } : {}),
    }),
  );
  try {
    const { tenantId, sender, dialogs, seeded } = await seed(app);
    await app.services.retention.update(
      tenantId,
      { userId: sender, actor: { type: 'system' }, context: {} },
      { messages: '30d' },
    );
    const baselineMs = 10_000;
    const baseline = await sendWhile(
      app,
      tenantId,
      sender,
      dialogs,
      new Promise((resolve) => setTimeout(resolve, baselineMs)),
    );
    const sweeping = performance.now();
    const window = new AbortController();
    const timer =
      SWEEP_SECONDS > 0
        ? setTimeout(() => {
            window.abort();
          }, SWEEP_SECONDS * 1000)
        : undefined;
    const sweep = app.services.retentionSweeper
      .sweep({ tenantId, signal: window.signal })
      .catch((error: unknown) => {
        if (!window.signal.aborted) throw error;
      });
    const during = await sendWhile(app, tenantId, sender, dialogs, sweep);
    await sweep;
    clearTimeout(timer);
    const sweepSeconds = (performance.now() - sweeping) / 1000;
    const left = await app.storage.withTenant(tenantId, (tx) =>
      tx
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('tenant_id', '=', tenantId)
        .where('deleted_at', 'is', null)
        .where('created_at', '<', Date.now() - 30 * DAY)
        .executeTakeFirstOrThrow(),
    );
    // PostgreSQL answers a count as a string.
    const expiredLeft = Number.parseInt(String(left.n), 10);
    return {
      oldMessages: seeded,
      sweepStoppedAfterWindow: window.signal.aborted ? 1 : 0,
      expiredLeftAfterSweep: expiredLeft,
      sweepSeconds,
      deletedPerSecond: (seeded - expiredLeft) / sweepSeconds,
      baselineSends: baseline.length,
      baselineSendP50Ms: percentile(baseline, 50),
      baselineSendP99Ms: percentile(baseline, 99),
      sendsDuringSweep: during.length,
      sendDuringSweepP50Ms: percentile(during, 50),
      sendDuringSweepP99Ms: percentile(during, 99),
      sendDuringSweepMaxMs: during.at(-1) ?? 0,
    };
  } finally {
    await app.shutdown();
    await rm(dataDir, { recursive: true, force: true });
    if (databaseUrl && schema) {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    }
  }
}
