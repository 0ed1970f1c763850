import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import {
  cacheKey,
  commitEntry,
  copyEntry,
  countMessages,
  databaseUrl,
  entryDir,
  type GrownManifest,
  type GrownShape,
  GROWN_SCHEMA,
  liveGrower,
  readEntry,
  recreateDatabase,
  templateDatabase,
} from './grown-cache.js';
import { eachLimited, GrownHttp } from './grown-http.js';
import { GROWN_TEXT_SEED } from './grown-text.js';
import { setUpPeople, signIn } from './grown-setup.js';
import { type BenchStorage, ServerProcess } from './server-process.js';

export interface GrownUser {
  userId: string;
  email: string;
  /** An access token from the OAuth password grant: scope `profile chat admin` for the owner, else `profile chat`. */
  token: string;
}

/** A server started on a database pre-grown to a stated size, with the people and dialogs in it. */
export interface GrownFixture {
  /** Started and listening on the grown data; `stop()` removes the run's copy. */
  server: ServerProcess;
  tenantId: string;
  /** users[0] is the owner; all share one password (GROWN_PASSWORD in grown-setup.ts). */
  users: GrownUser[];
  /** Private dialogs between users[a] and users[b] (a = 2i, b = 2i + 1). */
  pairs: { dialogId: string; a: number; b: number }[];
  /** The group dialog of users 0 … groupSize − 1; its creator (the owner) is memberIndices[0]. */
  group: { dialogId: string; memberIndices: number[] } | undefined;
  /** Messages in the database when the server started (counted, not assumed). */
  storedMessages: number;
  /** Time spent growing (0 when taken from the cache). */
  growSeconds: number;
}

export interface GrownOptions {
  storage: BenchStorage;
  postgresUrl: string;
  redisUrl: string;
  /** 0 = a fresh database with the same users and dialogs. */
  messages: number;
  pairs: number;
  /** 0 = no group. */
  groupSize: number;
  /** false: `PARLEY_TLS_MODE=behind-proxy`, so `server.url` is http:// and `server.wsUrl` ws://. */
  tls: boolean;
  serverEnv: Record<string, string>;
  /** A `taskset -c` CPU list for the server process, e.g. '0'. */
  serverCpus?: string | undefined;
  cpuProfileDir?: string | undefined;
}

const log = (line: string) => {
  console.log(`grown database: ${line}`);
};

/**
 * Grows a cache entry: a server (plain HTTP, any core) on a new data dir and, on PostgreSQL, a new database
 * sets up the tenant, users and dialogs through the real API; once it is stopped, the history is written with
 * the server's own modules (grown-history.ts, loaded only here: a cached run never imports them).
 */
async function grow(shape: GrownShape, key: string, options: GrownOptions): Promise<GrownManifest> {
  const started = performance.now();
  const partialDir = `${entryDir(shape, key)}.partial-${process.pid}`;
  await rm(partialDir, { recursive: true, force: true });
  const dataDir = join(partialDir, 'data');
  await mkdir(dataDir, { recursive: true });
  let postgres: { databaseUrl: string; schema: string } | undefined;
  if (shape.storage !== 'sqlite') {
    await recreateDatabase(options.postgresUrl, templateDatabase(key));
    postgres = { databaseUrl: databaseUrl(options.postgresUrl, templateDatabase(key)), schema: GROWN_SCHEMA };
  }
  const server = await ServerProcess.start({
    ...options,
    env: {},
    tls: false,
    prepared: { dataDir, postgres, keep: true },
  });
  let people;
  try {
    people = await setUpPeople(server, shape);
  } finally {
    await server.stop();
  }
  const dialogs = [
    ...people.pairs.map(({ dialogId, a, b }) => ({ dialogId, memberIndices: [a, b] })),
    ...(people.group ? [people.group] : []),
  ].map(({ dialogId, memberIndices }) => ({
    dialogId,
    memberIds: memberIndices.map((index) => people.users[index]?.userId ?? ''),
  }));
  if (shape.messages > 0 && dialogs.length > 0) {
    const { growHistory } = await import('./grown-history.js');
    const grown = await growHistory({
      env: server.env,
      tenantId: people.tenantId,
      messages: shape.messages,
      dialogs,
      seed: GROWN_TEXT_SEED,
      log,
    });
    log(
      `${grown.events.toLocaleString('en-US')} events, ${grown.reactions.toLocaleString('en-US')} reactions`,
    );
  }
  const manifest: GrownManifest = {
    ...people,
    key,
    shape,
    storedMessages: await countMessages(dataDir, postgres),
    growSeconds: Math.round((performance.now() - started) / 100) / 10,
    grownAt: new Date().toISOString(),
    schema: GROWN_SCHEMA,
  };
  await commitEntry(partialDir, manifest, options.postgresUrl);
  return manifest;
}

/**
 * A server on a database pre-grown to `messages` stored messages over `pairs` private dialogs and a group of
 * `groupSize`, with history as the server writes it: sealed bodies, per-dialog sequence numbers, edits,
 * deletions and reactions in the same stream, receipts near the head, search entries of every live message.
 * Grown once per shape and format, then taken from the cache (`PARLEY_BENCH_CACHE_DIR`, default
 * ~/.cache/parley-bench): each run serves a copy, so runs never see each other's messages. Users sign in over
 * the OAuth password grant once the server listens. See docs/performance.md ("The grown database").
 */
export async function startGrownServer(options: GrownOptions): Promise<GrownFixture> {
  const shape: GrownShape = {
    storage: options.storage,
    messages: options.messages,
    pairs: options.pairs,
    groupSize: options.groupSize,
  };
  const started = performance.now();
  const key = await cacheKey(shape);
  // Another bench growing the same entry: wait for it rather than grow it twice into one database.
  for (let pid = await liveGrower(shape, key); pid !== undefined; pid = await liveGrower(shape, key)) {
    log(`waiting for process ${pid}, which is growing this database`);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
  }
  const cached = await readEntry(shape, key, options.postgresUrl);
  const manifest = cached ?? (await grow(shape, key, options));
  const copy = await copyEntry(shape, key, options.postgresUrl);
  let storedMessages: number;
  try {
    storedMessages = await countMessages(copy.dataDir, copy.postgres);
  } catch (error) {
    await rm(copy.dataDir, { recursive: true, force: true });
    await copy.release?.();
    throw error;
  }
  const server = await ServerProcess.start({
    ...options,
    env: options.serverEnv,
    cpus: options.serverCpus,
    prepared: copy,
  });
  try {
    const http = new GrownHttp(server.url, server.ca);
    const users = await eachLimited(manifest.users, 4, async (user, index) => ({
      ...user,
      token: await signIn(http, manifest.tenantId, user.email, index === 0),
    })).finally(() => http.close());
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    log(
      `${options.storage}, ${storedMessages.toLocaleString('en-US')} messages over ${manifest.pairs.length} pairs` +
        `${manifest.group ? ` and a group of ${manifest.group.memberIndices.length}` : ''}: ` +
        (cached
          ? `reused from the cache (grown ${manifest.grownAt} in ${manifest.growSeconds} s)`
          : `grown in ${manifest.growSeconds} s`) +
        `; served and ${users.length} users signed in after ${seconds} s (${entryDir(shape, key)})`,
    );
    return {
      server,
      tenantId: manifest.tenantId,
      users,
      pairs: manifest.pairs,
      group: manifest.group,
      storedMessages,
      growSeconds: cached ? 0 : manifest.growSeconds,
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
