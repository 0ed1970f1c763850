import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { Storage } from '../../src/storage/database.ts';
import { withDeferredBegin } from '../../src/storage/dialects/postgres-deferred-begin.ts';
import { describePostgres } from '../support/dialects.ts';
import { openTestStorage, testTenantService, type TestStorage } from '../support/test-storage.ts';

/**
 * A tenant transaction sends `begin` together with its first statement (setting the tenant), one round trip
 * fewer. What must not change: the transaction is still one transaction (a failure rolls everything back),
 * row-level security still binds it, and a tenant id that is not one of ours can never reach the SQL text.
 */
describePostgres('a transaction’s begin rides with its first statement', () => {
  let t: TestStorage;
  let storage: Storage;
  let tenantA: string;

  beforeAll(async () => {
    t = await openTestStorage('postgres');
    ({ storage } = t);
    tenantA = (await testTenantService(t).createTenant('Tenant A')).tenantId;
  });

  afterAll(async () => {
    await t.close();
  });

  it('sends begin and a parameterless first statement as one query, and nothing for an empty transaction', async () => {
    const pool = new pg.Pool({ connectionString: inject('postgresUrl'), max: 1 });
    const sent: string[] = [];
    const client = await pool.connect();
    const original = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as { query: unknown }).query = (text: unknown, values?: unknown) => {
      sent.push(String(text));
      return original(text, values);
    };
    client.release();
    try {
      const deferred = withDeferredBegin(pool);
      const proxy = await deferred.connect();
      await proxy.query('begin');
      const result = await proxy.query('select 41 + 1 as answer');
      expect(result.rows).toEqual([{ answer: 42 }]);
      await proxy.query('commit');
      await proxy.query('begin');
      await proxy.query('select $1::int as answer', [7]);
      await proxy.query('rollback');
      await proxy.query('begin');
      await proxy.query('commit');
      proxy.release();
      expect(sent).toEqual([
        'begin; select 41 + 1 as answer',
        'commit',
        'begin',
        'select $1::int as answer',
        'rollback',
      ]);
    } finally {
      await pool.end();
    }
  });

  it('still rolls back every statement of a failed tenant transaction', async () => {
    const marker = 'deferred-begin-rollback';
    await expect(
      storage.withTenant(tenantA, async (tx) => {
        await tx
          .insertInto('tenant_setup_tokens')
          .values({
            id: marker,
            tenant_id: tenantA,
            token_hash: 'h',
            expires_at: 1,
            used_at: null,
            created_at: 1,
          })
          .execute();
        throw new Error('fail after the write');
      }),
    ).rejects.toThrow('fail after the write');
    const rows = await storage.withTenant(tenantA, (tx) =>
      tx.selectFrom('tenant_setup_tokens').select('id').where('id', '=', marker).execute(),
    );
    expect(rows).toEqual([]);
  });

  it('binds row-level security as before, and sends a tenant id that is not a UUID as a parameter (attack: SQL in the tenant id)', async () => {
    const own = await storage.withTenant(tenantA, (tx) =>
      tx.selectFrom('tenant_setup_tokens').select('tenant_id').execute(),
    );
    expect(own).toEqual([{ tenant_id: tenantA }]);
    const injected = `${tenantA}', true), set_config('app.tenant_id', '${tenantA}`;
    const seen = await storage.withTenant(injected, async (tx) => {
      const { rows } = await sql<{
        tenant: string;
      }>`select current_setting('app.tenant_id') as tenant`.execute(tx);
      const tokens = await tx.selectFrom('tenant_setup_tokens').select('tenant_id').execute();
      return { tenant: rows[0]?.tenant, tokens };
    });
    expect(seen).toEqual({ tenant: injected, tokens: [] });
  });
});
