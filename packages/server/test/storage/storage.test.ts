import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import { migrateToLatest } from '../../src/storage/migrator.ts';
import { migrationNames } from '../../src/storage/migrator.ts';
import { SEARCH_AUTOMERGE } from '../../src/storage/migrations/0014-search-merge.ts';
import { SEARCH_CRISIS_MERGE } from '../../src/storage/migrations/0037-search-crisis-merge.ts';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../support/dialects.ts';
import { testStorageOptions } from '../support/test-storage.ts';

describeEachDialect('storage', (dialect) => {
  let database: TestDatabase;
  let storage: Storage;

  beforeAll(async () => {
    database = createTestDatabase(dialect);
    storage = openStorage(testStorageOptions(database));
    await migrateToLatest(storage);
  });

  afterAll(async () => {
    await storage.close();
    await database.drop();
  });

  it('applies every migration once; running again changes nothing', async () => {
    const again = await migrateToLatest(storage);
    expect(again).toEqual([]);
    const applied = await storage.kysely
      .selectFrom('kysely_migration' as never)
      .select('name' as never)
      .execute();
    expect(applied.map((row) => (row as { name: string }).name)).toEqual(migrationNames);
  });

  it('commits a transaction that resolves and rolls back one that throws', async () => {
    const now = Date.now();
    await storage.withSystem((tx) =>
      tx
        .insertInto('tenants')
        .values({ id: `kept-${dialect}`, name: 'Kept', status: 'active', created_at: now })
        .execute(),
    );
    await expect(
      storage.withSystem(async (tx) => {
        await tx
          .insertInto('tenants')
          .values({ id: `lost-${dialect}`, name: 'Lost', status: 'active', created_at: now })
          .execute();
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const ids = await storage.withSystem((tx) => tx.selectFrom('tenants').select('id').execute());
    expect(ids.map((row) => row.id)).toContain(`kept-${dialect}`);
    expect(ids.map((row) => row.id)).not.toContain(`lost-${dialect}`);
  });

  it('enforces foreign keys', async () => {
    await expect(
      storage.withSystem(async (tx) => {
        const tenantTx = await storage.enterTenant(tx, 'no-such-tenant');
        await tenantTx
          .insertInto('tenant_setup_tokens')
          .values({
            id: 'orphan',
            tenant_id: 'no-such-tenant',
            token_hash: 'x',
            expires_at: 1,
            used_at: null,
            created_at: 1,
          })
          .execute();
      }),
    ).rejects.toThrow(/foreign key/i);
  });

  it('keeps times as exact millisecond numbers', async () => {
    const at = 1_790_000_000_123;
    await storage.withSystem((tx) =>
      tx
        .insertInto('tenants')
        .values({ id: `time-${dialect}`, name: 'T', status: 'active', created_at: at })
        .execute(),
    );
    const row = await storage.withSystem((tx) =>
      tx
        .selectFrom('tenants')
        .select('created_at')
        .where('id', '=', `time-${dialect}`)
        .executeTakeFirstOrThrow(),
    );
    expect(row.created_at).toBe(at);
  });

  it.runIf(dialect === 'sqlite')(
    'runs SQLite in WAL mode with durable commits and foreign keys on',
    async () => {
      const pragma = async (name: string) =>
        (await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(storage.kysely)).rows[0];
      expect(await pragma('journal_mode')).toEqual({ journal_mode: 'wal' });
      // 1 = NORMAL: the WAL is flushed after each commit off the event loop (sqlite-durable-commit.test.ts).
      expect(await pragma('synchronous')).toEqual({ synchronous: 1 });
      expect(await pragma('foreign_keys')).toEqual({ foreign_keys: 1 });
    },
  );
  it.runIf(dialect === 'sqlite')(
    'merges the message index 16 segments at a time (FTS5 default: 4)',
    async () => {
      // The setting lives in the FTS5 table's own config; 4-way merges stalled commits on a grown index.
      const { rows } = await sql<{ v: number }>`select v from message_search_fts_config
      where k = 'automerge'`.execute(storage.kysely);
      expect(rows).toEqual([{ v: SEARCH_AUTOMERGE }]);
      expect(SEARCH_AUTOMERGE).toBe(16);
    },
  );
  it.runIf(dialect === 'sqlite')(
    'leaves room between incremental merges (16) and a whole-level merge inside a write (64)',
    async () => {
      // At FTS5's default of 16 a level reached the crisis count when incremental merging would have begun on
      // it, and a send batch merged the whole level in one statement (100–400 ms stalls, issue 11).
      const { rows } = await sql<{ k: string; v: number }>`select k, v from message_search_fts_config
      where k in ('automerge', 'crisismerge') order by k`.execute(storage.kysely);
      expect(rows).toEqual([
        { k: 'automerge', v: 16 },
        { k: 'crisismerge', v: SEARCH_CRISIS_MERGE },
      ]);
      expect(SEARCH_CRISIS_MERGE).toBeGreaterThanOrEqual(4 * 16);
    },
  );
});
