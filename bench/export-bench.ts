import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pipeline } from 'node:stream/promises';
import { createDialogBody, sendMessageBody } from '@parley/protocol';
import pg from 'pg';
import { type App, createApp } from '../packages/server/src/app.js';
import { loadConfig } from '../packages/server/src/config.js';

/**
 * `npm run bench -- export`: one user's GDPR data export (issue 13) on a database holding MESSAGES messages in
 * that user's dialogs (half theirs, half from three others, in ten dialogs), built by the real export job
 * in-process on the embedded SQLite database (PARLEY_BENCH_DATABASE_URL: PostgreSQL instead). Measures the
 * build (the job from claim to ready), the download (decrypting every part, counted and hashed, never held),
 * and memory sampled every 50 ms during the build (resident set, and the JavaScript heap from a collected
 * start), whose peaks show whether memory stays bounded while the archive grows.
 */
const MESSAGES = Number(process.env.PARLEY_BENCH_EXPORT_MESSAGES ?? 100_000);
const DIALOGS = 10;
const SENDS_IN_FLIGHT = 64;
const WORDS =
  'the quick brown fox jumps over a lazy dog while seven wizards quietly pack boxes of liquor jugs'.split(
    ' ',
  );

/**
 * A message of 8 to 40 words and a random token: chat-like text that compresses about as well as real chat
 * (a bench of repeated sentences would measure gzip, not the export).
 */
function text(n: number): string {
  const length = 8 + (n % 33);
  const words = Array.from({ length }, (_, i) => WORDS[(n * 7 + i * 13) % WORDS.length]);
  return `${words.join(' ')} ${randomBytes(12).toString('base64url')}`;
}

async function seed(app: App) {
  const { services, tenants } = app;
  const { tenantId } = await tenants.createTenant('Export Bench');
  const people: string[] = [];
  for (let n = 0; n < 4; n += 1)
    people.push(
      (
        await services.users.createUser(tenantId, {
          displayName: `Person ${n}`,
          email: `p${n}@bench.example`,
        })
      ).id,
    );
  const [subject = '', ...others] = people;
  const dialogs: string[] = [];
  for (let n = 0; n < DIALOGS; n += 1) {
    const body = createDialogBody.parse({ type: 'group', name: `Room ${n}`, memberIds: others });
    dialogs.push((await services.dialogs.create(tenantId, subject, body)).id);
  }
  let next = 0;
  const sender = async () => {
    for (let n = next++; n < MESSAGES; n = next++) {
      const from = n % 2 === 0 ? subject : (others[n % others.length] ?? subject);
      const input = sendMessageBody.parse({ clientId: `bench-${n}`, body: text(n) });
      await services.messages.send(tenantId, from, dialogs[n % DIALOGS] ?? '', input);
    }
  };
  await Promise.all(Array.from({ length: SENDS_IN_FLIGHT }, sender));
  return { tenantId, subject };
}

/**
 * Memory sampled every 50 ms while `work` runs: the peak resident set, and the peak of the JavaScript heap in
 * use (what a build that held its records or its archive would grow), from a collected heap at the start;
 * and the heap still live after it, collected again.
 */
async function sampled<T>(work: () => Promise<T>) {
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  let peakRss = process.memoryUsage.rss();
  let peakHeap = heapBefore;
  const sample = () => {
    const { rss, heapUsed } = process.memoryUsage();
    peakRss = Math.max(peakRss, rss);
    peakHeap = Math.max(peakHeap, heapUsed);
  };
  const timer = setInterval(sample, 50);
  try {
    const result = await work();
    sample();
    collectGarbage();
    return { result, peakRss, heapBefore, peakHeap, heapAfter: process.memoryUsage().heapUsed };
  } finally {
    clearInterval(timer);
  }
}

/** A full collection, so the heap measured from is what is live (the flag is set here, not on the command line). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc === 'function') (gc as () => void)();
}

const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;
const MiB = 1024 * 1024;

export async function runExportBench(): Promise<Record<string, number>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-export-bench-'));
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
      // The bench runs the job itself (tick), not the runner's timer.
      PARLEY_JOB_POLL_INTERVAL_MS: '10000',
      ...(databaseUrl && schema ? { DATABASE_URL: databaseUrl, PARLEY_DATABASE_SCHEMA: schema } : {}),
    }),
  );
  try {
    const seeding = process.hrtime.bigint();
    const { tenantId, subject } = await seed(app);
    const seedSeconds = seconds(seeding);
    const actor = { userId: subject, sessionId: null, context: {} };
    const rssBefore = process.memoryUsage.rss();
    const building = process.hrtime.bigint();
    const { peakRss, heapBefore, peakHeap, heapAfter } = await sampled(async () => {
      const requested = await app.services.exports.request(tenantId, subject, actor, 'subject');
      await app.jobs.runner.tick();
      await app.jobs.runner.settled();
      return requested;
    });
    const buildSeconds = seconds(building);
    const [exported] = await app.services.exports.list(tenantId, subject, { kind: 'own', userId: subject });
    if (exported?.status !== 'ready')
      throw new Error(`the export did not finish: ${JSON.stringify(exported)}`);

    const downloading = process.hrtime.bigint();
    const download = await app.services.exports.download(tenantId, exported.id, actor, {
      kind: 'own',
      userId: subject,
    });
    const hash = createHash('sha256');
    let bytes = 0;
    await pipeline(
      download.body,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length;
          hash.update(chunk);
          callback();
        },
      }),
    );
    const downloadSeconds = seconds(downloading);
    if (bytes !== download.size) throw new Error(`downloaded ${bytes} bytes of ${download.size}`);
    return {
      messages: MESSAGES,
      recordsExported: exported.recordsWritten,
      seedSeconds: Math.round(seedSeconds),
      buildMs: Math.round(buildSeconds * 1000),
      recordsPerSecond: Math.round(exported.recordsWritten / buildSeconds),
      archiveMiB: Number((bytes / MiB).toFixed(1)),
      downloadMs: Math.round(downloadSeconds * 1000),
      rssBeforeMiB: Math.round(rssBefore / MiB),
      peakRssDuringBuildMiB: Math.round(peakRss / MiB),
      heapBeforeMiB: Math.round(heapBefore / MiB),
      peakHeapDuringBuildMiB: Math.round(peakHeap / MiB),
      // What the build left live: a build that kept its records or archive would show them here.
      heapAfterBuildMiB: Math.round(heapAfter / MiB),
      loadAverage1min: Number((loadavg()[0] ?? 0).toFixed(2)),
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
