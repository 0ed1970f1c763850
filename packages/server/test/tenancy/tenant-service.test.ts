import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashToken } from '../../src/crypto/token.ts';
import type { Storage } from '../../src/storage/database.ts';
import type { TenantService } from '../../src/tenancy/tenant-service.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { openTestStorage, testTenantService, type TestStorage } from '../support/test-storage.ts';

describeEachDialect('tenant service', (dialect) => {
  let t: TestStorage;
  let storage: Storage;
  let tenants: TenantService;
  const now = 1_800_000_000_000;

  beforeAll(async () => {
    t = await openTestStorage(dialect);
    storage = t.storage;
    tenants = testTenantService(t, { now: () => now });
  });

  afterAll(async () => {
    await t.close();
  });

  it('creates a tenant with a one-time owner setup token that expires', async () => {
    const created = await tenants.createTenant('  Acme Health  ');
    expect(created.name).toBe('Acme Health');
    expect(created.tenantId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(created.ownerSetupToken).toMatch(/^parley_setup_[A-Za-z0-9_-]{43}$/);
    expect(created.ownerSetupTokenExpiresAt).toBe(new Date(now + 3600_000).toISOString());
    // The creation is on the system audit chain.
    const entries = await storage.withTenant('system', (tx) =>
      tx.selectFrom('audit_log').select(['action', 'target_id']).where('tenant_id', '=', 'system').execute(),
    );
    expect(entries).toContainEqual({ action: 'tenant.created', target_id: created.tenantId });
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
