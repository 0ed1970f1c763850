import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Storage } from '../../src/storage/database.ts';
import { applicationRole } from '../../src/storage/dialects/postgres.ts';
import { tenantOwnedTables } from '../../src/storage/tables.ts';
import { describePostgres, type TestDatabase } from '../support/dialects.ts';
import { openTestStorage, testTenantService, type TestStorage } from '../support/test-storage.ts';

/**
 * Attack: a bug (or an injected query) in tenant A's request reads tenant B's rows. PostgreSQL's row-level
 * security must refuse it even when the query forgets its `tenant_id` filter.
 */
describePostgres('row-level security', () => {
  let t: TestStorage;
  let database: TestDatabase;
  let storage: Storage;
  let tenantA: string;
  let tenantB: string;

  beforeAll(async () => {
    t = await openTestStorage('postgres');
    ({ storage, database } = t);
    const tenants = testTenantService(t);
    tenantA = (await tenants.createTenant('Tenant A')).tenantId;
    tenantB = (await tenants.createTenant('Tenant B')).tenantId;
  });

  afterAll(async () => {
    await t.close();
  });

  /** Runs an unfiltered query as the server's role with `app.tenant_id` as given (or unset). */
  const countAs = async (table: string, tenantId: string | undefined) =>
    storage.withSystem(async (tx) => {
      await sql`select set_config('role', ${applicationRole}, true)`.execute(tx);
      if (tenantId !== undefined)
        await sql`select set_config('app.tenant_id', ${tenantId}, true)`.execute(tx);
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(
        tx,
      );
      return rows[0]?.n;
    });

  it('shows a tenant only its own rows, even to a query without a tenant filter', async () => {
    for (const table of ['tenant_setup_tokens', 'tenants']) {
      expect(await countAs(table, tenantA)).toBe(1);
      expect(await countAs(table, tenantB)).toBe(1);
    }
    // As the owner (no row-level security), both tenants' rows are there: the filtering above is RLS.
    const all = await storage.withSystem((tx) =>
      tx.selectFrom('tenant_setup_tokens').select('tenant_id').execute(),
    );
    expect(all.map((row) => row.tenant_id).sort()).toEqual([tenantA, tenantB].sort());
  });

  it('shows no rows when the tenant is not set', async () => {
    for (const table of [...tenantOwnedTables, 'tenants']) expect(await countAs(table, undefined)).toBe(0);
  });

  it('shows no rows when another (unknown) tenant is set', async () => {
    for (const table of [...tenantOwnedTables, 'tenants'])
      expect(await countAs(table, 'someone-else')).toBe(0);
  });

  it('refuses to write a row into another tenant', async () => {
    await expect(
      storage.withTenant(tenantA, (tx) =>
        tx
          .insertInto('tenant_setup_tokens')
          .values({
            id: 'x',
            tenant_id: tenantB,
            token_hash: 'h',
            expires_at: 1,
            used_at: null,
            created_at: 1,
          })
          .execute(),
      ),
    ).rejects.toThrow(/row-level security/);
  });

  it('withTenant binds a transaction: an unfiltered read sees only that tenant', async () => {
    const rows = await storage.withTenant(tenantA, (tx) =>
      tx.selectFrom('tenant_setup_tokens').select('tenant_id').execute(),
    );
    expect(rows).toEqual([{ tenant_id: tenantA }]);
  });

  it('puts every table with a tenant_id column under forced row-level security', async () => {
    const schema = database.schema ?? 'public';
    const { rows } = await sql<{ table_name: string; rls: boolean; forced: boolean }>`
      select c.table_name, k.relrowsecurity as rls, k.relforcerowsecurity as forced
      from information_schema.columns c
      join pg_class k on k.relname = c.table_name
      join pg_namespace n on n.oid = k.relnamespace and n.nspname = c.table_schema
      where c.table_schema = ${schema} and c.column_name = 'tenant_id'
      order by c.table_name`.execute(storage.kysely);
    expect(rows.map((row) => row.table_name)).toEqual([...tenantOwnedTables].sort());
    for (const row of rows) expect(row).toMatchObject({ rls: true, forced: true });
  });
});
