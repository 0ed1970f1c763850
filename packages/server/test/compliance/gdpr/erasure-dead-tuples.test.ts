import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { erasedTables, vacuumAfterErasure } from '../../../src/compliance/gdpr/erasure-vacuum.ts';
import { describePostgres } from '../../support/dialects.ts';
import { json, newTenantOwner, type SignedIn } from '../../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';
import { type CanaryUser, erasureReaching, newCanaryUser } from './erasure-fixtures.ts';

/**
 * PostgreSQL keeps an updated or deleted row's old version in its heap page until VACUUM removes it, so a
 * "deleted" profile or message can still be read from the pages with page-level tools (or a copy of the
 * files). Here every page of every table, index and TOAST table of the schema is read raw (pageinspect):
 * the plaintext of the user's profile, messages and file name is in none of them, before or after the
 * erasure — only ciphertext ever reaches the database — and after the erasure no row version, live or dead,
 * holds any of the user's former ciphertexts, and the page bytes of `user_keys` no longer hold the wrapped
 * account key crypto-shredding destroyed. The server runs in a database of its own: a VACUUM cannot remove a
 * version an older snapshot of the same database may still need, and other suites' transactions are not ours
 * to wait for.
 */
describePostgres('erasure leaves no old row versions behind', () => {
  const database = `parley_dead_${randomBytes(4).toString('hex')}`;
  let admin: pg.Client;
  let pages: pg.Client;
  let server: TestServer;
  let owner: SignedIn;
  let schema: string;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: inject('postgresUrl') });
    await admin.connect();
    await admin.query(`create database ${database}`);
    const url = new URL(inject('postgresUrl'));
    url.pathname = `/${database}`;
    pages = new pg.Client({ connectionString: url.toString() });
    await pages.connect();
    await pages.query('create extension if not exists pageinspect');
    server = await startTestServer({
      dialect: 'postgres',
      env: { DATABASE_URL: url.toString(), PARLEY_JOB_POLL_INTERVAL_MS: '100' },
    });
    schema = server.database.schema ?? '';
    owner = await newTenantOwner(server, 'Dead Tuple Clinic');
  });

  afterAll(async () => {
    await server.close();
    await pages.end();
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.end();
  });

  /** Every relation of the schema with storage: tables, indexes, and the tables' TOAST tables. */
  async function relations(): Promise<{ oid: number; name: string; heap: boolean }[]> {
    const { rows } = await pages.query<{ oid: number; name: string; kind: string }>(
      `select c.oid::int as oid, c.oid::regclass::text as name, c.relkind::text as kind from pg_class c
       where c.relkind in ('r', 'i', 't')
         and (c.relnamespace = $1::regnamespace
           or c.oid in (select reltoastrelid from pg_class where relnamespace = $1::regnamespace))`,
      [schema],
    );
    return rows.map((row) => ({ oid: row.oid, name: row.name, heap: row.kind !== 'i' }));
  }

  /** The raw bytes of every page of a relation. */
  async function rawPages(oid: number): Promise<Buffer[]> {
    const { rows } = await pages.query<{ page: Buffer }>(
      `select get_raw_page($1::regclass::text, 'main', b::int) as page
       from generate_series(0, pg_relation_size($1::regclass) / current_setting('block_size')::int - 1) b`,
      [oid],
    );
    return rows.map((row) => row.page);
  }

  /** Where any of `needles` occurs in any page's bytes, as `relation: needle`. */
  async function inPageBytes(needles: readonly string[], only?: string): Promise<string[]> {
    const found: string[] = [];
    for (const relation of await relations()) {
      if (only !== undefined && relation.name !== `${schema}.${only}`) continue;
      const text = (await rawPages(relation.oid)).map((page) => page.toString('latin1')).join('');
      for (const needle of needles) if (text.includes(needle)) found.push(`${relation.name}: ${needle}`);
    }
    return found;
  }

  /** Where any of `needles` occurs in a row version (live or dead) of a heap page, as `relation: needle`. */
  async function inRowVersions(needles: readonly string[]): Promise<string[]> {
    const found: string[] = [];
    for (const relation of (await relations()).filter((candidate) => candidate.heap)) {
      const { rows } = await pages.query<{ data: Buffer }>(
        `select t_data as data
         from generate_series(0, pg_relation_size($1::regclass) / current_setting('block_size')::int - 1) b,
              heap_page_items(get_raw_page($1::regclass::text, 'main', b::int))
         where t_data is not null`,
        [relation.oid],
      );
      const text = rows.map((row) => row.data.toString('latin1')).join('\n');
      for (const needle of needles) if (text.includes(needle)) found.push(`${relation.name}: ${needle}`);
    }
    return found;
  }

  /** The victim's ciphertexts as stored (the tail of each envelope), and their wrapped account key. */
  async function sealedOf(victim: CanaryUser): Promise<{ sealed: string[]; wrappedKey: string }> {
    const tail = (envelope: string) => (envelope.split('.').at(-1) ?? envelope).slice(0, 40);
    const user = await pages.query<{ display_name: string; email: string }>(
      `select display_name, email from ${schema}.users where id = $1`,
      [victim.userId],
    );
    const messages = await pages.query<{ body: string }>(
      `select body from ${schema}.messages where sender_id = $1`,
      [victim.userId],
    );
    const file = await pages.query<{ name: string; content_key: string }>(
      `select name, content_key from ${schema}.attachments where id = $1`,
      [victim.attachmentId],
    );
    const key = await pages.query<{ wrapped_key: string }>(
      `select wrapped_key from ${schema}.user_keys where user_id = $1`,
      [victim.userId],
    );
    const values = [
      user.rows[0]?.display_name,
      user.rows[0]?.email,
      ...messages.rows.map((row) => row.body),
      file.rows[0]?.name,
      file.rows[0]?.content_key,
    ];
    return {
      sealed: values.filter((value): value is string => typeof value === 'string').map(tail),
      wrappedKey: tail(key.rows[0]?.wrapped_key ?? 'missing'),
    };
  }

  it('only ciphertext reaches the pages, and after the erasure no row version holds the erased data', async () => {
    const victim = await newCanaryUser(server, owner);
    const canaries = Object.values(victim.canaries);
    const { sealed, wrappedKey } = await sealedOf(victim);
    expect(sealed).toHaveLength(6);
    // The plaintext never reaches a page; the ciphertexts are there, as live row versions.
    expect(await inPageBytes(canaries)).toEqual([]);
    expect((await inRowVersions([...sealed, wrappedKey])).length).toBeGreaterThanOrEqual(7);

    const asked = await server.request(
      `/v1/users/${victim.userId}/erasure`,
      json({ graceDays: 0 }, owner.accessToken),
    );
    expect(asked.status, asked.text).toBe(202);
    await erasureReaching(server, owner.accessToken, victim.userId);

    expect(await inPageBytes(canaries)).toEqual([]);
    // The job vacuumed the tables it changed (statistics arrive within a second or so).
    for (let tries = 0; ; tries += 1) {
      const { rows } = await pages.query<{ relname: string }>(
        `select relname from pg_stat_user_tables where schemaname = $1 and vacuum_count > 0`,
        [schema],
      );
      const vacuumed = rows.map((row) => row.relname);
      if (['messages', 'users', 'attachments', 'user_keys'].every((table) => vacuumed.includes(table))) break;
      if (tries > 50) throw new Error(`not vacuumed: ${vacuumed.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A VACUUM leaves a version an older snapshot may still need (in this fresh database, autovacuum's ANALYZE
    // of the new tables runs now and then); once no snapshot predates the erasure, another pass removes it.
    await vacuumAfterErasure(server.app.storage);
    expect(await inRowVersions([...sealed, wrappedKey])).toEqual([]);
    expect(erasedTables).toEqual(expect.arrayContaining(['attachments', 'messages', 'user_keys', 'users']));
  });
});
