import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SERVICE_PURPOSE } from '../../src/compliance/gdpr/consent-defaults.ts';
import { consentMigration } from '../../src/storage/migrations/0017-consent.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { openTestStorage, type TestStorage, testTenantService } from '../support/test-storage.ts';

/**
 * Every tenant has the required `service` purpose: one created now gets it in its creation transaction (the
 * CLI's `tenant create` runs the same service), and one that existed before consent got it from migration 0017,
 * which is re-run here over a tenant row written without it.
 */
describeEachDialect('the service purpose of every tenant', (dialect) => {
  let t: TestStorage;

  beforeAll(async () => {
    t = await openTestStorage(dialect);
  });

  afterAll(async () => {
    await t.close();
  });

  const purposesOf = (tenantId: string) =>
    t.storage.withTenant(tenantId, (tx) =>
      tx
        .selectFrom('consent_purposes')
        .select(['key', 'version', 'text_hash', 'lawful_basis', 'required', 'active', 'superseded_at'])
        .where('tenant_id', '=', tenantId)
        .execute(),
    );
  const servicePurpose = {
    key: 'service',
    version: 1,
    text_hash: createHash('sha256').update(SERVICE_PURPOSE.text, 'utf8').digest('hex'),
    lawful_basis: 'contract',
    required: 1,
    active: 1,
    superseded_at: null,
  };

  it('is published for a new tenant in the transaction that creates it', async () => {
    const { tenantId } = await testTenantService(t).createTenant('Brand New');
    expect(await purposesOf(tenantId)).toEqual([servicePurpose]);
  });

  it('is given by migration 0017 to a tenant that existed before it, under row-level security', async () => {
    const created = await testTenantService(t).createTenant('Created Today');
    const olderId = '00000000-0000-7000-8000-00000000a017';
    await t.storage.withSystem((tx) =>
      tx
        .insertInto('tenants')
        .values({ id: olderId, name: 'Older', status: 'active', created_at: 0 })
        .execute(),
    );
    // The database as it was before 0017: no consent tables at all.
    const db = t.storage.kysely as unknown as Kysely<unknown>;
    for (const table of ['consent_states', 'consent_ledger', 'consent_purposes'])
      await sql`drop table ${sql.table(table)}`.execute(db);
    await consentMigration(t.storage.adapter).up(db);
    await t.storage.adapter.finishMigrations(db); // as migrateToLatest does: grants for the application role
    expect(await purposesOf(olderId)).toEqual([servicePurpose]);
    expect(await purposesOf(created.tenantId)).toEqual([servicePurpose]);
    // Each tenant sees its own row only, even without the store's tenant filter (PostgreSQL's policy).
    if (dialect === 'postgres') {
      const seen = await t.storage.withTenant(olderId, (tx) =>
        tx.selectFrom('consent_purposes').select('tenant_id').execute(),
      );
      expect(seen).toEqual([{ tenant_id: olderId }]);
    }
  });
});
