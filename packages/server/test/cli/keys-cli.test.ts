import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUserService } from '../../src/identity/user-service.ts';
import { systemClock } from '../../src/clock.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { parley } from '../support/run-cli.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

describeEachDialect('parley keys (while the server runs)', (dialect) => {
  let server: TestServer;
  let env: Record<string, string>;
  let tenantId: string;
  let userId: string;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    env = server.database.env;
    tenantId = (await server.app.tenants.createTenant('Rotating Ltd')).tenantId;
    const users = createUserService({
      storage: server.app.storage,
      security: server.app.security,
      clock: systemClock,
    });
    userId = (
      await users.createUser(tenantId, { displayName: 'Rita Rotate', email: 'rita@rotating.example' })
    ).id;
  });

  afterAll(async () => {
    await server.close();
  });

  const users = () =>
    createUserService({ storage: server.app.storage, security: server.app.security, clock: systemClock });

  it('keys status reports versions and uses, never key material', async () => {
    const result = await parley(['keys', 'status'], env);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as {
      master: { activeVersion: number; versions: { version: number; wrapsKeys: number }[] };
      tenants: { tenantId: string; keys: { purpose: string; version: number; usedBy: string }[] }[];
    };
    expect(status.master.activeVersion).toBe(1);
    const tenant = status.tenants.find((entry) => entry.tenantId === tenantId);
    expect(tenant?.keys.map((key) => `${key.purpose}:${key.version}`).sort()).toEqual(['data:1', 'index:1']);
    expect(tenant?.keys.find((key) => key.purpose === 'data')?.usedBy).toMatch(/^1 user keys/);
    const masterKey = (
      JSON.parse(readFileSync(path.join(server.database.dataDir, 'master.key'), 'utf8')) as {
        keys: { key: string }[];
      }
    ).keys[0]?.key;
    expect(result.stdout).not.toContain(masterKey);
  });

  it('rotate-master re-wraps all keys; the running server keeps reading and writing', async () => {
    const result = await parley(['keys', 'rotate-master'], env);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ version: 2 });
    expect((await users().getUser(tenantId, userId)).email).toBe('rita@rotating.example');
    const second = (await server.app.tenants.createTenant('After')).tenantId;
    const created = await users().createUser(second, { displayName: 'New' });
    expect((await users().getUser(second, created.id)).displayName).toBe('New');
    const status = JSON.parse((await parley(['keys', 'status'], env)).stdout) as {
      master: { versions: { version: number; wrapsKeys: number }[] };
    };
    expect(status.master.versions.find((entry) => entry.version === 1)?.wrapsKeys).toBe(0);
  });

  it('rotate-data-key then reencrypt moves every user key to the new version', async () => {
    const rotated = await parley(['keys', 'rotate-data-key', '--tenant', tenantId], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout)).toEqual({ tenantId, dataKeyVersion: 2, reencryption: 'pending' });
    const reencrypted = await parley(['keys', 'reencrypt', '--batch', '1'], env);
    expect(JSON.parse(reencrypted.stdout)).toEqual({ tenants: 1, moved: 1 });
    const status = JSON.parse((await parley(['keys', 'status'], env)).stdout) as {
      tenants: {
        tenantId: string;
        rotationPending: boolean;
        keys: { purpose: string; version: number; retired: boolean; usedBy: string }[];
      }[];
    };
    const tenant = status.tenants.find((entry) => entry.tenantId === tenantId);
    expect(tenant?.rotationPending).toBe(false);
    expect(tenant?.keys.find((key) => key.purpose === 'data' && key.version === 1)).toMatchObject({
      retired: true,
      usedBy: expect.stringMatching(/^0 user keys/),
    });
    expect((await users().getUser(tenantId, userId)).email).toBe('rita@rotating.example');
  });

  it('a wrong master key stops the CLI with a clear message', async () => {
    const result = await parley(['keys', 'status'], {
      ...env,
      PARLEY_MASTER_KEY: Buffer.alloc(32, 1).toString('base64'),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('master key version 1 does not match the database');
  });
});
