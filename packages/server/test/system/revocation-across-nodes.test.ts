import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePostgres } from '../support/dialects.ts';
import { bearer, newTenantOwner, ownerPassword, postForm, signIn } from '../support/identity-fixtures.ts';
import type { TestServer } from '../support/start-server.ts';
import { startTwoNodes, type TwoNodes } from '../support/two-nodes.ts';

/**
 * Attack: a stolen token is revoked on one node while the thief keeps using it on another node, whose
 * cache still holds it. Two real server processes' worth of state (two apps) share PostgreSQL and Redis.
 */

describePostgres('token revocation across nodes', () => {
  let nodeA: TestServer;
  let nodeB: TestServer;

  let nodes: TwoNodes;

  beforeAll(async () => {
    nodes = await startTwoNodes();
    ({ nodeA, nodeB } = nodes);
  });

  afterAll(async () => {
    await nodes.close();
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
