import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { json, ownerPassword } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

describeEachDialect('claiming a tenant with its one-time setup token', (dialect) => {
  let server: TestServer;
  const clock = { time: Date.now(), now: () => clock.time };

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
  });

  afterAll(async () => {
    await server.close();
  });

  const setup = (tenantId: string, setupToken: string, password = ownerPassword) =>
    server.request(
      `/v1/tenants/${tenantId}/setup`,
      json({
        setupToken,
        displayName: 'Olivia Owner',
        email: 'olivia@claim.example',
        password,
        acceptedPurposes: [{ key: 'service', version: 1 }],
      }),
    );

  it('creates the owner once; the token cannot be used again, even at the same moment', async () => {
    const tenant = await server.app.tenants.createTenant('Claimed');
    const answers = await Promise.all([
      setup(tenant.tenantId, tenant.ownerSetupToken),
      setup(tenant.tenantId, tenant.ownerSetupToken),
    ]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 410]);
    expect((await setup(tenant.tenantId, tenant.ownerSetupToken)).status).toBe(410);
  });

  it('refuses a weak owner password by rule, and leaves the token usable', async () => {
    const tenant = await server.app.tenants.createTenant('Weak Start');
    const weak = await setup(tenant.tenantId, tenant.ownerSetupToken, 'olivia123');
    expect(weak.status).toBe(400);
    expect(weak.json<{ error: { message: string } }>().error.message).toContain('min_length');
    expect((await setup(tenant.tenantId, tenant.ownerSetupToken)).status).toBe(201);
  });

  it('refuses an expired token, and a token of another tenant', async () => {
    const first = await server.app.tenants.createTenant('First');
    const second = await server.app.tenants.createTenant('Second');
    expect((await setup(second.tenantId, first.ownerSetupToken)).status).toBe(401);
    clock.time += 25 * 3600 * 1000;
    expect((await setup(first.tenantId, first.ownerSetupToken)).status).toBe(410);
  });
});
