import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { createUserService } from '../../src/identity/user-service.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { openTestStorage, testTenantService, type TestStorage } from '../support/test-storage.ts';

const run = promisify(execFile);

/**
 * Attack: a stolen disk, or a stolen database dump. Whoever holds the raw database files (or `pg_dump`
 * output) but not the master key must find none of the personal data that users entered.
 */
describeEachDialect('personal data at rest', (dialect) => {
  let t: TestStorage;
  const people = [
    {
      displayName: 'Margaretha Zellweger-Quist',
      email: 'margaretha.zellweger@hospital-nord.example',
      phone: '+41 79 555 12 34',
    },
    {
      displayName: 'Oluwaseun Adebayo-Fitzgerald',
      email: 'seun.adebayo@fintech-south.example',
      phone: '+44 7700 900123',
    },
    { displayName: 'Jiří Dvořáček', email: 'jiri.dvoracek@praha-klinik.example', phone: '+420 601 555 777' },
  ];

  beforeAll(async () => {
    t = await openTestStorage(dialect);
    const tenants = testTenantService(t);
    const users = createUserService({ storage: t.storage, security: t.security, clock: systemClock });
    const tenantId = (await tenants.createTenant('At Rest Test')).tenantId;
    for (const person of people)
      await users.createUser(tenantId, { ...person, profile: { note: `${person.displayName} notes` } });
    // Sanity: the data is really there and readable through the application.
    expect((await users.findByEmail(tenantId, people[0]?.email ?? ''))?.displayName).toBe(
      people[0]?.displayName,
    );
  });

  afterAll(async () => {
    await t.close();
  });

  async function rawBytes(): Promise<Buffer> {
    if (dialect === 'sqlite') {
      // The database file and its write-ahead log: everything SQLite has put on disk.
      const files = readdirSync(t.database.dataDir).filter((name) => name.startsWith('parley.db'));
      expect(files).toContain('parley.db');
      return Buffer.concat(files.map((name) => readFileSync(path.join(t.database.dataDir, name))));
    }
    const { stdout } = await run(
      'pg_dump',
      ['--dbname', inject('postgresUrl'), '--schema', t.database.schema ?? 'public', '--data-only'],
      {
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'buffer',
      },
    );
    return stdout;
  }

  it('the raw database contains none of the names, e-mail addresses or phone numbers', async () => {
    const raw = await rawBytes();
    expect(raw.length).toBeGreaterThan(1000);
    // The dump is real: it holds the (non-personal) tenant name we stored in the clear.
    expect(raw.includes('At Rest Test')).toBe(true);
    for (const person of people) {
      for (const value of [
        person.displayName,
        person.email,
        person.email.toUpperCase(),
        person.phone,
        person.phone.replaceAll(' ', ''),
      ]) {
        expect(raw.includes(value), `${value} found at rest`).toBe(false);
      }
      expect(raw.includes(person.email.split('@')[0] ?? '')).toBe(false);
      expect(raw.includes(`${person.displayName} notes`)).toBe(false);
    }
  });
});
