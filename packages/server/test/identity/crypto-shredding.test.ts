import { copyFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { KeyDestroyedError } from '../../src/crypto/keyring.ts';
import { createUserService, type UserService } from '../../src/identity/user-service.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { openTestStorage, testTenantService, type TestStorage } from '../support/test-storage.ts';

describeEachDialect('users: sealed personal fields and crypto-shredding', (dialect) => {
  let t: TestStorage;
  let users: UserService;
  let tenantId: string;

  beforeAll(async () => {
    t = await openTestStorage(dialect);
    users = createUserService({ storage: t.storage, security: t.security, clock: systemClock });
    const tenants = testTenantService(t);
    tenantId = (await tenants.createTenant('Clinic')).tenantId;
  });

  afterAll(async () => {
    await t.close();
  });

  it('stores personal fields sealed and returns them opened', async () => {
    const created = await users.createUser(tenantId, {
      displayName: 'Dr. Grace Hopper',
      email: 'grace@clinic.example',
      phone: '+1 555 0100',
      profile: { specialty: 'cardiology' },
    });
    expect(created).toMatchObject({
      displayName: 'Dr. Grace Hopper',
      email: 'grace@clinic.example',
      profile: { specialty: 'cardiology' },
    });
    const row = await t.storage.withTenant(tenantId, (tx) =>
      tx.selectFrom('users').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow(),
    );
    for (const column of ['display_name', 'email', 'phone', 'profile'] as const)
      expect(row[column]).toMatch(/^pf1\.u\./);
    expect(JSON.stringify(row)).not.toMatch(/Grace|clinic\.example|\+1 555 0100|cardiology/);
  });

  it('finds a user by exact e-mail through the blind index, case-insensitively', async () => {
    const found = await users.findByEmail(tenantId, 'GRACE@clinic.example');
    expect(found?.displayName).toBe('Dr. Grace Hopper');
    expect(await users.findByEmail(tenantId, 'nobody@clinic.example')).toBeUndefined();
  });

  it('refuses a second user with the same e-mail', async () => {
    await expect(
      users.createUser(tenantId, { displayName: 'X', email: 'grace@clinic.example' }),
    ).rejects.toMatchObject({
      code: 'conflict',
    });
  });

  it('erasure destroys the key: every copy of the sealed fields becomes unreadable', async () => {
    const victim = await users.createUser(tenantId, {
      displayName: 'Erin Erased',
      email: 'erin@clinic.example',
    });
    const sealedCopy = await t.storage.withTenant(tenantId, (tx) =>
      tx.selectFrom('users').select('email').where('id', '=', victim.id).executeTakeFirstOrThrow(),
    );
    await users.eraseUser(tenantId, victim.id);
    expect(await users.getUser(tenantId, victim.id)).toMatchObject({
      status: 'erased',
      displayName: null,
      email: null,
    });
    expect(await users.findByEmail(tenantId, 'erin@clinic.example')).toBeUndefined();
    // A copy of the ciphertext taken before erasure (an export, a replica row) no longer opens either.
    await t.storage.withTenant(tenantId, async (tx) => {
      await expect(
        t.security.fieldCipher.open(
          tx,
          { tenantId, table: 'users', column: 'email', rowId: victim.id },
          sealedCopy.email ?? '',
          victim.id,
        ),
      ).rejects.toBeInstanceOf(KeyDestroyedError);
    });
    const keyRow = await t.storage.withTenant(tenantId, (tx) =>
      tx.selectFrom('user_keys').selectAll().where('user_id', '=', victim.id).executeTakeFirstOrThrow(),
    );
    expect(keyRow.wrapped_key).toBeNull();
    expect(keyRow.destroyed_at).toEqual(expect.any(Number));
  });

  it.runIf(dialect === 'sqlite')(
    'a database file copied after erasure cannot revive the fields',
    async () => {
      const victim = await users.createUser(tenantId, { displayName: 'Fay Forgotten' });
      await users.eraseUser(tenantId, victim.id);
      const copyDir = mkdtempSync(path.join(os.tmpdir(), 'parley-copy-'));
      const db = path.join(t.database.dataDir, 'parley.db');
      for (const suffix of ['', '-wal', '-shm']) {
        try {
          copyFileSync(`${db}${suffix}`, path.join(copyDir, `parley.db${suffix}`));
        } catch {
          // no -wal/-shm file
        }
      }
      const { openStorage } = await import('../../src/storage/database.ts');
      const { openSecurityCore } = await import('../../src/crypto/security-core.ts');
      const copy = openStorage({ dataDir: copyDir, databaseSchema: 'public', databasePoolSize: 1 });
      try {
        const security = await openSecurityCore({
          storage: copy,
          clock: systemClock,
          masterKeyFile: t.masterKeyFile,
          erasureLogFile: t.erasureLogFile,
          generateIfMissing: false,
        });
        const fromCopy = createUserService({ storage: copy, security, clock: systemClock });
        expect((await fromCopy.getUser(tenantId, victim.id)).displayName).toBeNull();
      } finally {
        await copy.close();
      }
    },
  );

  it('a backup restored from before the erasure cannot revive the user: the register re-applies it', async () => {
    const victim = await users.createUser(tenantId, {
      displayName: 'Rhea Restored',
      email: 'rhea@clinic.example',
    });
    // The "backup": the user's key row as it was before the erasure.
    const backup = await t.storage.withTenant(tenantId, (tx) =>
      tx.selectFrom('user_keys').selectAll().where('user_id', '=', victim.id).executeTakeFirstOrThrow(),
    );
    await users.eraseUser(tenantId, victim.id);
    // The "restore": an operator puts the old row back (as a restore of the whole database would).
    await t.storage.withTenant(tenantId, (tx) =>
      tx
        .updateTable('user_keys')
        .set({ wrapped_key: backup.wrapped_key, destroyed_at: null })
        .where('user_id', '=', victim.id)
        .execute(),
    );
    await t.storage.withTenant(tenantId, (tx) =>
      tx.updateTable('users').set({ status: 'active' }).where('id', '=', victim.id).execute(),
    );
    // The attack is real: with the old key row back, the data would open again...
    expect((await users.getUser(tenantId, victim.id)).displayName).toBe('Rhea Restored');
    // ...but the next start-up re-applies the register kept outside the database.
    const { openSecurityCore } = await import('../../src/crypto/security-core.ts');
    const restarted = await openSecurityCore({
      storage: t.storage,
      clock: systemClock,
      masterKeyFile: t.masterKeyFile,
      erasureLogFile: t.erasureLogFile,
      generateIfMissing: false,
    });
    const afterRestore = createUserService({ storage: t.storage, security: restarted, clock: systemClock });
    expect(await afterRestore.getUser(tenantId, victim.id)).toMatchObject({
      status: 'erased',
      displayName: null,
      email: null,
    });
    expect(await afterRestore.findByEmail(tenantId, 'rhea@clinic.example')).toBeUndefined();
  });
});
