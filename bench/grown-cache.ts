import { createHash, randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { migrationNames } from '../packages/server/src/storage/migrator.js';
import type { GrownPeople } from './grown-setup.js';
import type { BenchStorage } from './server-process.js';

/**
 * The cache of grown databases: one entry per (storage, messages, pairs, group size, format), so a second
 * bench run copies in seconds what the first grew in minutes. An entry is a directory holding the data dir
 * (keys; on SQLite also the database file) and `manifest.json`, written last: a grow that died midway leaves
 * no manifest and is grown again. On PostgreSQL the tables live in a database of their own,
 * `parley_bench_grown_<key>`, copied per run with `CREATE DATABASE … TEMPLATE`.
 */

/** Bump when the grower writes differently in a way the hashed files below do not show. */
const GROWER_VERSION = 1;

/**
 * Files whose change changes what a grown database holds or how it is read back: the schema (the stores the
 * grower calls copy their rows into it as given), the field cipher and the binding of a message's sealed
 * fields (`messageLocation` in message-presenter.ts), the search tokens and index, and the grower.
 */
const FORMAT_FILES = [
  'packages/server/src/storage/migrations',
  'packages/server/src/storage/tables.ts',
  'packages/server/src/crypto/aead.ts',
  'packages/server/src/crypto/field-cipher.ts',
  'packages/server/src/crypto/keyring.ts',
  'packages/server/src/crypto/master-key.ts',
  'packages/server/src/messaging/message-presenter.ts',
  'packages/server/src/messaging/search/search-tokens.ts',
  'packages/server/src/messaging/search/search-token-hasher.ts',
  'packages/server/src/messaging/search/search-index.ts',
  'packages/server/src/messaging/search/sqlite-search-index.ts',
  'packages/server/src/messaging/search/postgres-search-index.ts',
  'bench/grown-history.ts',
  'bench/grown-setup.ts',
  'bench/grown-text.ts',
  'bench/grown-timeline.ts',
];

const repoRoot = resolve(import.meta.dirname, '..');

export interface GrownShape {
  storage: BenchStorage;
  messages: number;
  pairs: number;
  groupSize: number;
}

/** What an entry holds besides its data: who is in it and how it was grown. */
export interface GrownManifest extends GrownPeople {
  key: string;
  shape: GrownShape;
  storedMessages: number;
  growSeconds: number;
  grownAt: string;
  /** PostgreSQL: the schema of Parley's tables inside the entry's database. */
  schema: string;
}

/** The PostgreSQL schema Parley's tables get inside a grown database. */
export const GROWN_SCHEMA = 'parley';

export const cacheRoot = (): string =>
  resolve(process.env.PARLEY_BENCH_CACHE_DIR ?? join(homedir(), '.cache', 'parley-bench'));

async function hashPath(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  const full = join(repoRoot, path);
  if (!existsSync(full)) return;
  if (path.endsWith('.ts')) {
    hash.update(`${path}\n`).update(await readFile(full));
    return;
  }
  for (const name of (await readdir(full)).sort()) await hashPath(hash, join(path, name));
}

/** The entry's key: the shape, the migrations and the content of every file in FORMAT_FILES. */
export async function cacheKey(shape: GrownShape): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify({ GROWER_VERSION, shape, migrationNames }));
  for (const path of FORMAT_FILES) await hashPath(hash, path);
  return hash.digest('hex').slice(0, 16);
}

/** `sqlite-1000000-100p-50g-`: entries of one shape share it, whatever their format. */
const shapePrefix = (shape: GrownShape): string =>
  `${shape.storage === 'sqlite' ? 'sqlite' : 'postgres'}-${shape.messages}-${shape.pairs}p-${shape.groupSize}g-`;

export const entryDir = (shape: GrownShape, key: string): string =>
  join(cacheRoot(), `${shapePrefix(shape)}${key}`);

export const templateDatabase = (key: string): string => `parley_bench_grown_${key}`;

/** `url` with another database name (the user, host and options kept). */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function withPostgres<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function databaseExists(postgresUrl: string, name: string): Promise<boolean> {
  return withPostgres(postgresUrl, async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    return rowCount === 1;
  });
}

/** The entry for this key when it is complete (manifest written, its database present). */
export async function readEntry(shape: GrownShape, key: string, postgresUrl: string) {
  const file = join(entryDir(shape, key), 'manifest.json');
  if (!existsSync(file)) return undefined;
  const manifest = JSON.parse(await readFile(file, 'utf8')) as GrownManifest;
  if (manifest.key !== key) return undefined;
  if (shape.storage !== 'sqlite' && !(await databaseExists(postgresUrl, templateDatabase(key))))
    return undefined;
  return manifest;
}

/**
 * Finishes an entry grown in `partialDir`: its manifest, then one rename into place. Entries of the same
 * shape in another format are then removed (with their databases): nothing can serve them any more, and at
 * a million messages each holds gigabytes.
 */
export async function commitEntry(partialDir: string, manifest: GrownManifest, postgresUrl: string) {
  await writeFile(join(partialDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const target = entryDir(manifest.shape, manifest.key);
  await rm(target, { recursive: true, force: true });
  await rename(partialDir, target);
  const prefix = shapePrefix(manifest.shape);
  for (const name of await readdir(cacheRoot())) {
    const key = name.slice(prefix.length).split('.')[0] ?? '';
    if (!name.startsWith(prefix) || key === manifest.key) continue;
    // A partial entry of a bench still growing it stays.
    const grower = /\.partial-(\d+)$/.exec(name)?.[1];
    if (grower !== undefined && isAlive(Number(grower))) continue;
    if (manifest.shape.storage !== 'sqlite')
      await withPostgres(postgresUrl, (client) =>
        client.query(`drop database if exists "${templateDatabase(key)}" with (force)`),
      );
    await rm(join(cacheRoot(), name), { recursive: true, force: true });
  }
}

/** The pid of a live bench process growing this entry now, if any. */
export async function liveGrower(shape: GrownShape, key: string): Promise<number | undefined> {
  const base = `${shapePrefix(shape)}${key}.partial-`;
  if (!existsSync(cacheRoot())) return undefined;
  for (const name of await readdir(cacheRoot())) {
    const pid = Number(name.slice(base.length));
    if (name.startsWith(base) && pid !== process.pid && isAlive(pid)) return pid;
  }
  return undefined;
}

/** Drops and creates an empty database (PostgreSQL), for growing an entry into. */
export async function recreateDatabase(postgresUrl: string, name: string): Promise<void> {
  await withPostgres(postgresUrl, async (client) => {
    await client.query(`drop database if exists "${name}" with (force)`);
    await client.query(`create database "${name}"`);
  });
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Per-run copies are named after the bench process (`<pid>-<random>`); copies of processes that are gone
 * (killed before they could clean up) are removed, never those of a bench still running.
 */
async function removeOrphans(postgresUrl: string | undefined): Promise<void> {
  const runs = join(cacheRoot(), 'runs');
  if (existsSync(runs))
    for (const name of await readdir(runs))
      if (!isAlive(Number(name.split('-')[0]))) await rm(join(runs, name), { recursive: true, force: true });
  if (postgresUrl === undefined) return;
  await withPostgres(postgresUrl, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      `select datname from pg_database where datname like 'parley_bench_run_%'`,
    );
    for (const { datname } of rows)
      if (!isAlive(Number(datname.split('_')[3])))
        await client.query(`drop database if exists "${datname}" with (force)`);
  });
}

/**
 * A copy of an entry for one run: its data dir (SQLite file and keys; reflinked where the file system can),
 * and on PostgreSQL a database made from the entry's template. `release` drops that database.
 */
export async function copyEntry(shape: GrownShape, key: string, postgresUrl: string) {
  await removeOrphans(shape.storage === 'sqlite' ? undefined : postgresUrl);
  const name = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const dataDir = join(cacheRoot(), 'runs', name);
  await mkdir(join(cacheRoot(), 'runs'), { recursive: true });
  await cp(join(entryDir(shape, key), 'data'), dataDir, {
    recursive: true,
    mode: constants.COPYFILE_FICLONE,
  });
  if (shape.storage === 'sqlite') return { dataDir, postgres: undefined, release: undefined };
  const database = `parley_bench_run_${name.replace('-', '_')}`;
  await withPostgres(postgresUrl, async (client) => {
    const { rows } = await client.query<{ version: string }>('show server_version_num');
    // FILE_COPY (PostgreSQL 15+) copies the files; the default there logs every page to the WAL, far slower.
    const strategy = Number(rows[0]?.version ?? 0) >= 150_000 ? ' strategy file_copy' : '';
    await client.query(`create database "${database}" template "${templateDatabase(key)}"${strategy}`);
  });
  return {
    dataDir,
    postgres: { databaseUrl: databaseUrl(postgresUrl, database), schema: GROWN_SCHEMA },
    release: () =>
      withPostgres(postgresUrl, async (client) => {
        await client.query(`drop database if exists "${database}" with (force)`);
      }),
  };
}

/** Messages stored in a copy, counted in the database itself before the server starts. */
export async function countMessages(
  dataDir: string,
  postgres: { databaseUrl: string; schema: string } | undefined,
): Promise<number> {
  if (postgres === undefined) {
    const database = new Database(join(dataDir, 'parley.db'), { fileMustExist: true });
    try {
      return (database.prepare('select count(*) as n from messages').get() as { n: number }).n;
    } finally {
      database.close();
    }
  }
  return withPostgres(postgres.databaseUrl, async (client) => {
    const { rows } = await client.query<{ n: string }>(
      `select count(*) as n from "${postgres.schema}".messages`,
    );
    return Number(rows[0]?.n ?? NaN);
  });
}
