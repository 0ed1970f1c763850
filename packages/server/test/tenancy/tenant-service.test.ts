import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashToken } from '../../src/crypto/token.ts';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import { migrateToLatest } from '../../src/storage/migrator.ts';
import { createTenantService, type TenantService } from '../../src/tenancy/tenant-service.ts';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../support/dialects.ts';

describeEachDialect('tenant service', (dialect) => {
  let database: TestDatabase;
  let storage: Storage;
  let tenants: TenantService;
  const now = 1_800_000_000_000;

  beforeAll(async () => {
    database = createTestDatabase(dialect);
    storage = openStorage({
      dataDir: database.dataDir,
      databaseUrl: database.env.DATABASE_URL,
      databaseSchema: database.schema ?? 'public',
      databasePoolSize: 4,
    });
    await migrateToLatest(storage);
    tenants = createTenantService({ storage, clock: { now: () => now }, setupTokenTtlSeconds: 3600 });
  });

  afterAll(async () => {
    await storage.close();
    await database.drop();
  });

  it('creates a tenant with a one-time owner setup token that expires', async () => {
    const created = await tenants.createTenant('  Acme Health  ');
    expect(created.name).toBe('Acme Health');
    expect(created.tenantId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(created.ownerSetupToken).toMatch(/^parley_setup_[A-Za-z0-9_-]{43}$/);
    expect(created.ownerSetupTokenExpiresAt).toBe(new Date(now + 3600_000).toISOString());
  });

  it('stores only the hash of the setup token', async () => {
    const created = await tenants.createTenant('Hash Check');
    const rows = await storage.withTenant(created.tenantId, (tx) =>
      tx.selectFrom('tenant_setup_tokens').selectAll().where('tenant_id', '=', created.tenantId).execute(),
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.token_hash).toBe(hashToken(created.ownerSetupToken));
    expect(JSON.stringify(rows)).not.toContain(created.ownerSetupToken);
  });

  it('lists tenants in creation order', async () => {
    const listed = await tenants.listTenants();
    expect(listed.map((tenant) => tenant.name)).toEqual(['Acme Health', 'Hash Check']);
    expect(listed[0]).toMatchObject({ status: 'active', createdAt: new Date(now).toISOString() });
  });

  it('refuses an empty name or one with control characters', async () => {
    await expect(tenants.createTenant('   ')).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(tenants.createTenant('Evil\u0000Corp')).rejects.toMatchObject({ code: 'validation_failed' });
  });
});
