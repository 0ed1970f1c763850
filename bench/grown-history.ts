import { sql } from 'kysely';
import pg from 'pg';
import { systemClock } from '../packages/server/src/clock.js';
import { type Config, loadConfig } from '../packages/server/src/config.js';
import { openSecurityCore, type SecurityCore } from '../packages/server/src/crypto/security-core.js';
import { dialogStore } from '../packages/server/src/messaging/dialog-store.js';
import {
  type DialogEventRow,
  messageEventStore,
} from '../packages/server/src/messaging/message-event-store.js';
import type { IndexedMessage } from '../packages/server/src/messaging/message-index.js';
import { messageLocation } from '../packages/server/src/messaging/message-presenter.js';
import { messageSendStore } from '../packages/server/src/messaging/message-send-store.js';
import { PostgresSearchIndex } from '../packages/server/src/messaging/search/postgres-search-index.js';
import type { SearchIndex } from '../packages/server/src/messaging/search/search-index.js';
import { SearchTokenHasher } from '../packages/server/src/messaging/search/search-token-hasher.js';
import { SqliteSearchIndex } from '../packages/server/src/messaging/search/sqlite-search-index.js';
import { openStorage, type Storage, type TenantTx } from '../packages/server/src/storage/database.js';
import type { MessageReactionsTable } from '../packages/server/src/storage/tables.js';
import { deferKeys } from './grown-deferred-keys.js';
import { GrownVocabulary, SeededRandom } from './grown-text.js';
import { DialogTimeline, type HistoryStep } from './grown-timeline.js';

/** What to grow, in a database the server has set up (tenant, users and dialogs exist; the server is stopped). */
export interface GrowthPlan {
  /** The server's environment: where its data is (PARLEY_DATA_DIR, DATABASE_URL, PARLEY_DATABASE_SCHEMA). */
  env: Record<string, string>;
  tenantId: string;
  /** Messages to add, spread about evenly over the dialogs. */
  messages: number;
  /** Every dialog to grow, with its active members (creator first). */
  dialogs: readonly { dialogId: string; memberIds: readonly string[] }[];
  seed: number;
  /** Days of history the messages are spread over, ending a minute before growing starts. */
  days?: number | undefined;
  log: (line: string) => void;
}

export interface GrowthResult {
  messages: number;
  /** Sequenced changes: edits, deletions for everyone, reactions. */
  events: number;
  reactions: number;
}

/** Sends per transaction: large, so growing costs few commits, and far below every parameter limit. */
const CHUNK = 2000;
/** Rows per insert statement (13 parameters a message row: under SQLite's 32,766 and PostgreSQL's 65,535). */
const ROWS_PER_STATEMENT = 500;

const slices = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, index) =>
    items.slice(index * size, (index + 1) * size),
  );

interface Writer {
  storage: Storage;
  security: SecurityCore;
  index: SearchIndex;
  tenantId: string;
  result: GrowthResult;
}

const indexed = (step: Extract<HistoryStep, { kind: 'send' | 'edit' }>): IndexedMessage => {
  const row = step.kind === 'send' ? step.row : step.message;
  return {
    tenantId: row.tenant_id,
    messageId: row.id,
    dialogId: row.dialog_id,
    seq: row.seq,
    senderId: row.sender_id,
    createdAt: row.created_at,
    text: step.text,
  };
};

/**
 * The sends of a chunk as the send batch writes them (message-send-batch.ts, message-send-batch-state.ts):
 * bodies sealed under the tenant's data key, bound to their row; rows inserted together, then their search
 * entries through the server's index (blind tokens of words and beginnings).
 */
async function writeSends(writer: Writer, tx: TenantTx, sends: Extract<HistoryStep, { kind: 'send' }>[]) {
  const { fieldCipher } = writer.security;
  for (const { row, text } of sends)
    row.body = await fieldCipher.sealForTenant(tx, messageLocation(row, 'body'), text);
  for (const rows of slices(sends, ROWS_PER_STATEMENT))
    await messageSendStore.insertMessages(
      tx,
      rows.map((step) => step.row),
    );
  for (const entries of slices(sends, ROWS_PER_STATEMENT))
    await writer.index.indexMessages(tx, entries.map(indexed));
  writer.result.messages += sends.length;
}

/** Rows of a chunk's changes written together at its end: many per statement instead of one each. */
interface ChangeRows {
  events: DialogEventRow[];
  reactions: MessageReactionsTable[];
}

/**
 * One change as message-change-service.ts makes it: the message row and the index at once, the sequenced
 * event (and a reaction's row) into `rows` — the rows `messageEventStore.insertEvent` and `addReaction` write.
 */
async function writeChange(
  writer: Writer,
  tx: TenantTx,
  step: Exclude<HistoryStep, { kind: 'send' }>,
  rows: ChangeRows,
) {
  const { tenantId, index } = writer;
  const event = (kind: 'edited' | 'deleted' | 'reactions', actorId: string, seq: number, at: number) => {
    const { id, dialog_id } = step.message;
    rows.events.push({
      tenant_id: tenantId,
      dialog_id,
      seq,
      kind,
      message_id: id,
      actor_id: actorId,
      created_at: at,
    });
  };
  switch (step.kind) {
    case 'edit': {
      const body = await writer.security.fieldCipher.sealForTenant(
        tx,
        messageLocation(step.message, 'body'),
        step.text,
      );
      await dialogStore.updateMessage(tx, step.message, { body, edited_at: step.at });
      await index.reindexMessage(tx, indexed(step));
      event('edited', step.message.sender_id, step.seq, step.at);
      return;
    }
    case 'delete':
      // No attachments were shared, so there are none to release; no reactions were added to it.
      await dialogStore.updateMessage(tx, step.message, {
        body: null,
        properties: null,
        deleted_at: step.at,
      });
      await messageEventStore.clearReactions(tx, tenantId, step.message.id);
      await index.removeMessage(tx, tenantId, step.message.id);
      event('deleted', step.message.sender_id, step.seq, step.at);
      return;
    case 'react':
      // The timeline never repeats a reaction, so each one takes a sequence number (see grown-timeline.ts).
      rows.reactions.push({
        tenant_id: tenantId,
        message_id: step.message.id,
        user_id: step.userId,
        emoji: step.emoji,
        created_at: step.at,
      });
      event('reactions', step.userId, step.seq, step.at);
      return;
    case 'hide':
      await messageEventStore.hide(tx, tenantId, step.message.id, step.userId);
      return;
  }
}

async function writeChangeRows(writer: Writer, tx: TenantTx, rows: ChangeRows) {
  for (const slice of slices(rows.reactions, ROWS_PER_STATEMENT))
    await tx.insertInto('message_reactions').values(slice).execute();
  for (const slice of slices(rows.events, ROWS_PER_STATEMENT))
    await tx.insertInto('dialog_events').values(slice).execute();
  writer.result.reactions += rows.reactions.length;
  writer.result.events += rows.events.length;
}

/** Steps of one dialog in one tenant transaction, ending with the dialog's last seq, as a send batch does. */
async function writeSteps(writer: Writer, timeline: DialogTimeline, dialogId: string, steps: HistoryStep[]) {
  await writer.storage.withTenant(writer.tenantId, async (tx) => {
    if (writer.storage.dialect === 'postgres') await sql`set local synchronous_commit = off`.execute(tx);
    await writeSends(
      writer,
      tx,
      steps.filter((step) => step.kind === 'send'),
    );
    const rows: ChangeRows = { events: [], reactions: [] };
    for (const step of steps) if (step.kind !== 'send') await writeChange(writer, tx, step, rows);
    await writeChangeRows(writer, tx, rows);
    await messageSendStore.setLastSeqs(tx, writer.tenantId, [
      { dialogId, lastSeq: timeline.seq, at: timeline.lastAt },
    ]);
  });
}

/**
 * Members' receipts near the head (most read everything, some are a few messages behind, a few further),
 * delivered at least as far as read, as receipt-service.ts moves them; and the dialog and its memberships
 * dated to when its history begins.
 */
async function settleMembers(
  writer: Writer,
  dialog: { dialogId: string; memberIds: readonly string[] },
  timeline: DialogTimeline,
  random: SeededRandom,
  since: number,
) {
  await writer.storage.withTenant(writer.tenantId, async (tx) => {
    await dialogStore.updateDialog(tx, writer.tenantId, dialog.dialogId, { created_at: since });
    for (const userId of dialog.memberIds) {
      const behind = random.chance(0.6) ? 0 : random.chance(0.75) ? random.int(1, 5) : random.int(6, 50);
      const readSeq = Math.max(0, timeline.seq - behind);
      const deliveredSeq = random.chance(0.8) ? timeline.seq : Math.max(readSeq, timeline.seq - 2);
      await dialogStore.updateMember(tx, writer.tenantId, dialog.dialogId, userId, {
        read_seq: readSeq,
        delivered_seq: deliveredSeq,
        joined_at: since,
      });
    }
  });
}

async function growDialog(
  writer: Writer,
  dialog: { dialogId: string; memberIds: readonly string[] },
  options: { messages: number; seed: number; from: number; to: number; vocabulary: GrownVocabulary },
  progress: (messages: number) => void,
) {
  const random = new SeededRandom(options.seed);
  const start = await writer.storage.withTenant(writer.tenantId, (tx) =>
    dialogStore.findDialog(tx, writer.tenantId, dialog.dialogId),
  );
  if (!start) throw new Error(`dialog ${dialog.dialogId} not found`);
  const timeline = new DialogTimeline({
    tenantId: writer.tenantId,
    dialogId: dialog.dialogId,
    memberIds: dialog.memberIds,
    messages: options.messages,
    startSeq: start.last_seq,
    from: options.from,
    to: options.to,
    random,
    vocabulary: options.vocabulary,
  });
  while (timeline.remaining > 0) {
    const steps = timeline.next(CHUNK);
    if (timeline.remaining === 0) steps.push(...timeline.finish());
    await writeSteps(writer, timeline, dialog.dialogId, steps);
    progress(steps.filter((step) => step.kind === 'send').length);
  }
  await settleMembers(writer, dialog, timeline, random, options.from - 24 * 3600 * 1000);
}

/** Messages per dialog: the total spread about evenly (±10 %), summing exactly to it. */
function shares(total: number, dialogs: number, random: SeededRandom): number[] {
  const weights = Array.from({ length: dialogs }, () => 0.9 + 0.2 * random.next());
  const sum = weights.reduce((a, b) => a + b, 0);
  const counts = weights.map((weight) => Math.floor((total * weight) / sum));
  let left = total - counts.reduce((a, b) => a + b, 0);
  for (let index = 0; left > 0; index = (index + 1) % dialogs, left -= 1)
    counts[index] = (counts[index] ?? 0) + 1;
  return counts;
}

/** Runs `work` with a maintenance connection to the grown PostgreSQL database (none on SQLite). */
async function withMaintenance<T>(
  env: Record<string, string>,
  work: (client: pg.Client | undefined) => Promise<T>,
) {
  if (env.DATABASE_URL === undefined) return work(undefined);
  const client = new pg.Client({ connectionString: env.DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Every dialog's history through the server's modules; dialogs grow in parallel on PostgreSQL. */
async function writeHistory(storage: Storage, config: Config, plan: GrowthPlan): Promise<GrowthResult> {
  const result: GrowthResult = { messages: 0, events: 0, reactions: 0 };
  // A bulk load needs no fsync per commit; a crash while growing leaves no cache entry (see grown-cache.ts).
  if (storage.dialect === 'sqlite') await sql`pragma synchronous = off`.execute(storage.kysely);
  const security = await openSecurityCore({
    storage,
    clock: systemClock,
    masterKeyFile: config.masterKeyFile,
    masterKeyEnvironment: config.masterKey,
    generateIfMissing: false,
    erasureLogFile: config.erasureLogFile,
  });
  // The engine follows the database, as in app-services.ts.
  const hasher = new SearchTokenHasher(security.keyring);
  const index =
    storage.dialect === 'postgres' ? new PostgresSearchIndex(hasher) : new SqliteSearchIndex(hasher);
  const writer: Writer = { storage, security, index, tenantId: plan.tenantId, result };
  const random = new SeededRandom(plan.seed);
  const vocabulary = new GrownVocabulary(plan.seed);
  const counts = shares(plan.messages, plan.dialogs.length, random);
  const to = Date.now() - 60_000;
  const from = to - (plan.days ?? 180) * 24 * 3600 * 1000;
  const started = performance.now();
  let written = 0;
  let reported = 0;
  const progress = (messages: number) => {
    written += messages;
    if (written - reported < plan.messages / 10 && written < plan.messages) return;
    reported = written;
    const seconds = (performance.now() - started) / 1000;
    plan.log(`${written.toLocaleString('en-US')} messages written (${seconds.toFixed(0)} s)`);
  };
  let next = 0;
  const worker = async () => {
    while (next < plan.dialogs.length) {
      const at = next;
      next += 1;
      const dialog = plan.dialogs[at];
      if (!dialog) continue;
      const options = { messages: counts[at] ?? 0, seed: plan.seed + at * 7919, from, to, vocabulary };
      await growDialog(writer, dialog, options, progress);
    }
  };
  const workers = storage.dialect === 'postgres' ? Number(process.env.PARLEY_BENCH_GROW_WORKERS ?? 2) : 1;
  await Promise.all(Array.from({ length: workers }, worker));
  return result;
}

/**
 * Grows history into a stopped server's database with the server's own code: the storage, keyring and field
 * cipher it opens at start-up, its search index, and its stores for every row. What a send or a change would
 * write, this writes, in large transactions (one per dialog and 2,000 sends) instead of one per send.
 * Dialogs grow in parallel on PostgreSQL (two connections: one core seals and hashes while the database
 * writes), whose search-term keys are built once at the end (grown-deferred-keys.ts); SQLite has one writer.
 */
export async function growHistory(plan: GrowthPlan): Promise<GrowthResult> {
  return withMaintenance(plan.env, async (maintenance) => {
    const schema = plan.env.PARLEY_DATABASE_SCHEMA ?? 'public';
    const restoreKeys = maintenance ? await deferKeys(maintenance, schema) : undefined;
    const config = loadConfig({ ...plan.env, PARLEY_LOG_LEVEL: 'warn', PARLEY_DATABASE_POOL_SIZE: '4' });
    const storage = openStorage(config);
    let result: GrowthResult;
    try {
      result = await writeHistory(storage, config, plan);
      if (storage.dialect === 'sqlite') await sql`pragma wal_checkpoint(truncate)`.execute(storage.kysely);
    } finally {
      await storage.close();
    }
    if (maintenance) {
      const started = performance.now();
      await restoreKeys?.();
      // What autovacuum would soon do on a live server: planner statistics and the visibility map.
      await maintenance.query('vacuum (analyze)');
      plan.log(`keys built and vacuumed in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
    return result;
  });
}
