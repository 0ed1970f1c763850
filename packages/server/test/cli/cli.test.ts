import { mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrationNames } from '../../src/storage/migrator.ts';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../support/dialects.ts';
import { parley } from '../support/run-cli.ts';

describeEachDialect('parley CLI', (dialect) => {
  let database: TestDatabase;

  beforeAll(() => {
    database = createTestDatabase(dialect);
  });

  afterAll(async () => {
    await database.drop();
  });

  it('migrate applies the migrations and reports them', async () => {
    const result = await parley(['migrate'], database.env);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      dialect,
      applied: migrationNames,
    });
  });

  it('tenant create prints the id and a one-time expiring owner setup token; tenant list shows it', async () => {
    const created = await parley(['tenant', 'create', '--name', 'Northwind Clinic'], database.env);
    expect(created.code).toBe(0);
    const tenant = JSON.parse(created.stdout) as Record<string, string>;
    expect(tenant).toMatchObject({
      name: 'Northwind Clinic',
      ownerSetupToken: expect.stringMatching(/^parley_setup_/),
    });
    expect(Date.parse(tenant.ownerSetupTokenExpiresAt ?? '')).toBeGreaterThan(Date.now());
    const listed = await parley(['tenant', 'list'], database.env);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ tenantId: tenant.tenantId, name: 'Northwind Clinic', status: 'active' }),
    ]);
    expect(listed.stdout).not.toContain('parley_setup_');
  });

  it('tenant create without a name is a usage error (exit 2)', async () => {
    const result = await parley(['tenant', 'create'], database.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--name/);
  });
});

it('an invalid setting stops start-up with exit code 2 naming the key', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-badconfig-'));
  const result = await parley(['start'], { PARLEY_DATA_DIR: dataDir, PARLEY_PORT: '70000' });
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('PARLEY_PORT: must be between 0 and 65535');
});

it('first start generates the master key and certificate with mode 0600 in the data dir', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-firststart-'));
  const result = await parley(['migrate'], { PARLEY_DATA_DIR: dataDir });
  expect(result.code).toBe(0);
  expect(statSync(path.join(dataDir, 'parley.db')).mode & 0o777).toBe(0o600);
  expect(statSync(dataDir).mode & 0o777).toBe(0o700);
});
