import { afterAll, beforeAll, expect, it } from 'vitest';
import { DecryptionError } from '../../src/crypto/aead.ts';
import type { FieldLocation } from '../../src/crypto/field-cipher.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { openTestStorage, testTenantService, type TestStorage } from '../support/test-storage.ts';

/**
 * Attack: someone with write access to the database moves ciphertexts around — copies a victim's sealed
 * e-mail into their own row, or another tenant's — hoping the application decrypts it for them.
 */
describeEachDialect('field encryption and blind index', (dialect) => {
  let t: TestStorage;
  let tenantA: string;
  let tenantB: string;

  beforeAll(async () => {
    t = await openTestStorage(dialect);
    const tenants = testTenantService(t);
    tenantA = (await tenants.createTenant('A')).tenantId;
    tenantB = (await tenants.createTenant('B')).tenantId;
  });

  afterAll(async () => {
    await t.close();
  });

  const location = (overrides: Partial<FieldLocation> = {}): FieldLocation => ({
    tenantId: tenantA,
    table: 'users',
    column: 'email',
    rowId: 'row-1',
    ...overrides,
  });

  it('round-trips under the tenant key with a versioned envelope and a fresh nonce each time', async () => {
    const [first, second, opened] = await t.storage.withTenant(tenantA, async (tx) => {
      const a = await t.security.fieldCipher.sealForTenant(tx, location(), 'alice@example.com');
      const b = await t.security.fieldCipher.sealForTenant(tx, location(), 'alice@example.com');
      return [a, b, await t.security.fieldCipher.open(tx, location(), a)];
    });
    expect(first).toMatch(/^pf1\.t1\.[A-Za-z0-9_-]+$/);
    expect(first).not.toBe(second);
    expect(opened).toBe('alice@example.com');
  });

  it.each([
    ['another row', { rowId: 'row-2' }],
    ['another column', { column: 'phone' }],
    ['another table', { table: 'dialogs' }],
  ])('refuses a ciphertext copied to %s', async (_where, moved) => {
    await t.storage.withTenant(tenantA, async (tx) => {
      const sealed = await t.security.fieldCipher.sealForTenant(tx, location(), 'secret');
      await expect(t.security.fieldCipher.open(tx, location(moved), sealed)).rejects.toBeInstanceOf(
        DecryptionError,
      );
    });
  });

  it('refuses a ciphertext copied to another tenant', async () => {
    const sealed = await t.storage.withTenant(tenantA, (tx) =>
      t.security.fieldCipher.sealForTenant(tx, location(), 'secret'),
    );
    await t.storage.withTenant(tenantB, async (tx) => {
      await expect(
        t.security.fieldCipher.open(tx, location({ tenantId: tenantB }), sealed),
      ).rejects.toBeInstanceOf(DecryptionError);
    });
  });

  it('refuses a tampered ciphertext', async () => {
    await t.storage.withTenant(tenantA, async (tx) => {
      const sealed = await t.security.fieldCipher.sealForTenant(tx, location(), 'secret');
      const body = Buffer.from(sealed.split('.')[2] ?? '', 'base64url');
      body[body.length - 20] = (body[body.length - 20] ?? 0) ^ 1;
      const tampered = `pf1.t1.${body.toString('base64url')}`;
      await expect(t.security.fieldCipher.open(tx, location(), tampered)).rejects.toBeInstanceOf(
        DecryptionError,
      );
      await expect(t.security.fieldCipher.open(tx, location(), 'plain text')).rejects.toBeInstanceOf(
        DecryptionError,
      );
    });
  });

  it('blind index: equal after normalisation, different across tenants and kinds', async () => {
    const index = (tenantId: string, kind: 'email' | 'phone', value: string) =>
      t.storage.withTenant(tenantId, (tx) => t.security.blindIndex.compute(tx, tenantId, kind, value));
    const base = await index(tenantA, 'email', 'Alice@Example.com');
    expect(await index(tenantA, 'email', '  alice@example.COM ')).toBe(base);
    expect(await index(tenantA, 'email', 'bob@example.com')).not.toBe(base);
    expect(await index(tenantB, 'email', 'alice@example.com')).not.toBe(base);
    expect(await index(tenantA, 'phone', '+49 (151) 234-567')).toBe(
      await index(tenantA, 'phone', '+49151234567'),
    );
    expect(base).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
