import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { MasterKeyError } from '../../src/crypto/master-key.ts';
import { openSecurityCore } from '../../src/crypto/security-core.ts';
import { createUserService } from '../../src/identity/user-service.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { openTestStorage, testTenantService, type TestStorage } from '../support/test-storage.ts';

describeEachDialect('keyring', (dialect) => {
  let t: TestStorage;
  let tenantId: string;

  beforeEach(async () => {
    t = await openTestStorage(dialect);
    const tenants = testTenantService(t);
    tenantId = (await tenants.createTenant('Keys Inc')).tenantId;
  });

  afterEach(async () => {
    await t.close();
  });

  const reopen = (masterKeyEnvironment?: string) =>
    openSecurityCore({
      storage: t.storage,
      clock: systemClock,
      masterKeyFile: t.masterKeyFile,
      erasureLogFile: t.erasureLogFile,
      masterKeyEnvironment,
      generateIfMissing: true,
    });

  const users = (security = t.security) =>
    createUserService({ storage: t.storage, security, clock: systemClock });

  it('generates the master key file on first start with mode 0600', () => {
    expect(statSync(t.masterKeyFile).mode & 0o777).toBe(0o600);
    const file = JSON.parse(readFileSync(t.masterKeyFile, 'utf8')) as { keys: { version: number }[] };
    expect(file.keys.map((key) => key.version)).toEqual([1]);
  });

  it('refuses to start with a wrong master key, naming the problem', async () => {
    await users().createUser(tenantId, { displayName: 'Ann' });
    const wrong = Buffer.alloc(32, 7).toString('base64');
    await expect(reopen(wrong)).rejects.toThrow(
      new MasterKeyError(
        'master key version 1 does not match the database (wrong key file or PARLEY_MASTER_KEY)',
      ),
    );
  });

  it('refuses to start when the key file is missing but the database is sealed (no silent new key)', async () => {
    rmSync(t.masterKeyFile);
    await expect(reopen()).rejects.toThrow(/master key file .* is missing, but the database is sealed/);
  });

  it('accepts the same key from PARLEY_MASTER_KEY', async () => {
    const created = await users().createUser(tenantId, { displayName: 'Ann', email: 'ann@example.com' });
    const file = JSON.parse(readFileSync(t.masterKeyFile, 'utf8')) as { keys: { key: string }[] };
    rmSync(t.masterKeyFile);
    const fromEnvironment = await reopen(`1:${file.keys[0]?.key ?? ''}`);
    expect((await users(fromEnvironment).getUser(tenantId, created.id)).email).toBe('ann@example.com');
  });

  it('rotate-master re-wraps every key: the old master version can then be removed', async () => {
    const created = await users().createUser(tenantId, { displayName: 'Ann', email: 'ann@example.com' });
    const result = await t.security.keyring.rotateMaster();
    expect(result.version).toBe(2);
    expect(result.rewrapped).toBeGreaterThanOrEqual(3); // data key, index key, signing key
    // Keep only version 2 in the file and drop the version-1 check: everything must still open.
    const file = JSON.parse(readFileSync(t.masterKeyFile, 'utf8')) as { keys: { version: number }[] };
    writeFileSync(
      t.masterKeyFile,
      JSON.stringify({ ...file, keys: file.keys.filter((key) => key.version === 2) }),
    );
    await t.storage.withSystem((tx) => tx.deleteFrom('master_key_checks').where('version', '=', 1).execute());
    const rotated = await reopen();
    expect(rotated.keyring.masterKeys.active.version).toBe(2);
    expect((await users(rotated).getUser(tenantId, created.id)).email).toBe('ann@example.com');
  });

  it('a running keyring reads keys wrapped by a rotation another process made', async () => {
    const other = await reopen();
    await other.keyring.rotateMaster();
    const tenants = testTenantService(t);
    const second = (await tenants.createTenant('After rotation')).tenantId;
    const created = await users(other).createUser(second, { displayName: 'Bo', email: 'bo@example.com' });
    // t.security still holds only master version 1 in memory; it must re-read the file.
    expect((await users().getUser(second, created.id)).email).toBe('bo@example.com');
  });

  it('data-key rotation: new writes use the new version, re-encryption moves old data over in batches', async () => {
    const service = users();
    const before = await Promise.all(
      ['a', 'b', 'c', 'd', 'e'].map((name) => service.createUser(tenantId, { displayName: name })),
    );
    const version = await t.storage.withTenant(tenantId, (tx) =>
      t.security.keyring.rotateTenantDataKey(tx, tenantId),
    );
    expect(version).toBe(2);
    const after = await service.createUser(tenantId, { displayName: 'f' });
    const versions = async () =>
      t.storage.withTenant(tenantId, (tx) =>
        tx.selectFrom('user_keys').select(['user_id', 'data_key_version']).orderBy('user_id').execute(),
      );
    expect((await versions()).find((row) => row.user_id === after.id)?.data_key_version).toBe(2);
    expect(await t.security.keyring.reencryptBatch(tenantId, 2)).toBe(2);
    expect(await t.security.keyring.reencryptBatch(tenantId, 2)).toBe(2);
    expect(await t.security.keyring.reencryptBatch(tenantId, 2)).toBe(1);
    expect(await t.security.keyring.reencryptBatch(tenantId, 2)).toBe(0);
    expect((await versions()).every((row) => row.data_key_version === 2)).toBe(true);
    const fresh = await reopen();
    for (const user of before)
      expect((await users(fresh).getUser(tenantId, user.id)).displayName).toBe(user.displayName);
  });
});
