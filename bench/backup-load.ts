import { randomBytes, randomUUID } from 'node:crypto';
import { createDialogBody, sendMessageBody } from '@parley/protocol';
import type { App } from '../packages/server/src/app.js';

const DIALOGS = 10;
const INSERT_BATCH = 1000;
/** Rows per transaction: about 10 MB of messages, so growth stops within ~1 % of a 1 GiB target. */
const TRANSACTION_ROWS = 10_000;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** A tenant, a sender and the dialogs the bench grows and sends into; rows and transactions written so far. */
export interface BackupLoad {
  tenantId: string;
  sender: string;
  dialogs: string[];
  transactions: number;
  rows: number;
}

export async function newBackupLoad(app: App): Promise<BackupLoad> {
  const { services, tenants } = app;
  const { tenantId } = await tenants.createTenant('Backup Bench');
  const sender = (
    await services.users.createUser(tenantId, { displayName: 'Sender', email: 's@bench.example' })
  ).id;
  const dialogs: string[] = [];
  for (let n = 0; n < DIALOGS; n += 1) {
    const dialog = await services.dialogs.create(
      tenantId,
      sender,
      createDialogBody.parse({ type: 'group', name: `B${n}` }),
    );
    dialogs.push(dialog.id);
  }
  return { tenantId, sender, dialogs, transactions: 0, rows: 0 };
}

/**
 * One transaction of `count` messages with ~1 KB random bodies (incompressible, as encrypted or varied text
 * is) written straight into one dialog, its `last_seq` moved along so later sends follow on.
 */
async function insertTransaction(app: App, load: BackupLoad, count: number): Promise<void> {
  const dialogId = load.dialogs[load.transactions % load.dialogs.length] ?? '';
  const now = Date.now();
  await app.storage.withTenant(load.tenantId, async (tx) => {
    // Dialog creation may already have written messages (seq 1, …): continue after the dialog's last seq.
    const { last_seq: last } = await tx
      .selectFrom('dialogs')
      .select('last_seq')
      .where('id', '=', dialogId)
      .executeTakeFirstOrThrow();
    const first = last + 1;
    for (let start = 0; start < count; start += INSERT_BATCH) {
      const rows = Array.from({ length: Math.min(INSERT_BATCH, count - start) }, (_, i) => ({
        id: randomUUID(),
        tenant_id: load.tenantId,
        dialog_id: dialogId,
        seq: first + start + i,
        sender_id: load.sender,
        client_id: `grow-${randomUUID()}`,
        body: randomBytes(768).toString('base64'),
        reply_to: null,
        mentions: '[]',
        properties: null,
        created_at: now,
        edited_at: null,
        deleted_at: null,
      }));
      await tx.insertInto('messages').values(rows).execute();
    }
    await tx
      .updateTable('dialogs')
      .set({ last_seq: first + count - 1 })
      .where('id', '=', dialogId)
      .execute();
  });
  load.transactions += 1;
  load.rows += count;
}

/** Grows the database in large transactions until `size()` reaches `targetBytes`. */
export async function growTo(
  app: App,
  load: BackupLoad,
  targetBytes: number,
  size: () => Promise<number>,
): Promise<number> {
  let bytes = await size();
  while (bytes < targetBytes) {
    await insertTransaction(app, load, TRANSACTION_ROWS);
    bytes = await size();
  }
  return bytes;
}

/** Adds `count` more rows (the change an incremental backup carries). */
export async function growBy(app: App, load: BackupLoad, count: number): Promise<void> {
  for (let left = count; left > 0; left -= TRANSACTION_ROWS) {
    await insertTransaction(app, load, Math.min(TRANSACTION_ROWS, left));
  }
}

/** Sends one after another until `until` settles; each send's latency in ms, sorted. */
export async function sendWhile(app: App, load: BackupLoad, until: Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  const state = { done: false };
  void until.then(
    () => (state.done = true),
    () => (state.done = true),
  );
  let n = 0;
  while (!state.done) {
    const input = sendMessageBody.parse({ clientId: `live-${randomUUID()}`, body: `live message ${n}` });
    const started = performance.now();
    await app.services.messages.send(
      load.tenantId,
      load.sender,
      load.dialogs[n % load.dialogs.length] ?? '',
      input,
    );
    latencies.push(performance.now() - started);
    n += 1;
  }
  return latencies.sort((a, b) => a - b);
}

/** Send p50/p99/max of a baseline (10 s with nothing else running) and of the sends during `work`. */
export async function sendFigures<T>(
  app: App,
  load: BackupLoad,
  work: () => Promise<T>,
): Promise<{ result: T; seconds: number; figures: Record<string, number> }> {
  const baseline = await sendWhile(app, load, new Promise((resolve) => setTimeout(resolve, 10_000)));
  const started = performance.now();
  const running = work();
  const during = await sendWhile(app, load, running);
  const result = await running;
  return {
    result,
    seconds: (performance.now() - started) / 1000,
    figures: {
      baselineSends: baseline.length,
      baselineSendP50Ms: percentile(baseline, 50),
      baselineSendP99Ms: percentile(baseline, 99),
      baselineSendMaxMs: baseline.at(-1) ?? 0,
      sendsDuringBackup: during.length,
      sendDuringBackupP50Ms: percentile(during, 50),
      sendDuringBackupP99Ms: percentile(during, 99),
      sendDuringBackupMaxMs: during.at(-1) ?? 0,
    },
  };
}

export const BENCH_ENV = {
  PARLEY_HOST: '127.0.0.1',
  PARLEY_PORT: '0',
  PARLEY_LOG_LEVEL: 'warn',
  PARLEY_SEND_RATE_PER_SECOND: '1000000',
  PARLEY_SEND_BURST: '1000000',
  PARLEY_JOB_POLL_INTERVAL_MS: '10000',
  PARLEY_BACKUPS: 'false',
  PARLEY_ALERTS: 'false',
  PARLEY_AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0',
};

export const MB = 1_000_000;
