import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { Bus } from '../../src/bus/bus.ts';
import { describePostgres } from '../support/dialects.ts';
import { bearer, newTenantOwner, ownerPassword, postForm, signIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Attack: a stolen token is revoked on one node while the thief keeps using it on another node, whose
 * cache still holds it. Two real server processes' worth of state (two apps) share PostgreSQL and Redis.
 */
/** Resolves once the node's Redis subscription is up (the event, not a poll). */
function untilReliable(bus: Bus): Promise<void> {
  if (bus.reliable) return Promise.resolve();
  return new Promise((resolve) => {
    bus.onReliabilityChange((reliable) => {
      if (reliable) resolve();
    });
  });
}

describePostgres('token revocation across nodes', () => {
  let nodeA: TestServer;
  let nodeB: TestServer;

  beforeAll(async () => {
    const redisUrl = inject('redisUrl');
    if (!redisUrl) throw new Error('this suite needs Redis too');
    const prefix = `parley-test-${Math.random().toString(36).slice(2)}:`;
    nodeA = await startTestServer({
      dialect: 'postgres',
      env: { REDIS_URL: redisUrl, PARLEY_REDIS_PREFIX: prefix },
    });
    // Node B: same database schema and master key, its own process state.
    nodeB = await startTestServer({
      dialect: 'postgres',
      env: {
        ...nodeA.database.env,
        PARLEY_MASTER_KEY_FILE: `${nodeA.database.dataDir}/master.key`,
        REDIS_URL: redisUrl,
        PARLEY_REDIS_PREFIX: prefix,
      },
    });
    await Promise.all([untilReliable(nodeA.app.services.bus), untilReliable(nodeB.app.services.bus)]);
  });

  afterAll(async () => {
    await nodeB.app.shutdown();
    await nodeA.close();
  });

  it('a token revoked on node A stops working on node B at once', async () => {
    const owner = await newTenantOwner(nodeA, 'Two Nodes');
    const stolen = await signIn(nodeA, owner.tenantId, owner.email, ownerPassword, 'profile');
    // Warm node B's cache with the token.
    expect((await nodeB.request('/v1/me', bearer(stolen.accessToken))).status).toBe(200);
    expect((await nodeB.request('/v1/me', bearer(stolen.accessToken))).status).toBe(200);
    expect((await postForm(nodeA, '/oauth/revoke', { token: stolen.accessToken })).status).toBe(200);
    // No sleep, no retry: the very next request on B is refused.
    expect((await nodeB.request('/v1/me', bearer(stolen.accessToken))).status).toBe(401);
  });

  it('a password change on node B ends the sessions cached on node A', async () => {
    const owner = await newTenantOwner(nodeB, 'Two Nodes Again');
    const other = await signIn(nodeB, owner.tenantId, owner.email, ownerPassword, 'profile');
    expect((await nodeA.request('/v1/me', bearer(other.accessToken))).status).toBe(200);
    const changed = await nodeB.request('/v1/me/password', {
      method: 'PUT',
      headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        currentPassword: ownerPassword,
        newPassword: 'seven silver herons over the marsh',
      }),
    });
    expect(changed.status).toBe(204);
    expect((await nodeA.request('/v1/me', bearer(other.accessToken))).status).toBe(401);
  });
});
