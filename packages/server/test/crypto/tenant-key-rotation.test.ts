import type { ComplianceControl, SignedComplianceReport } from '@parley/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { createKeyManagement, type KeyManagement } from '../../src/crypto/key-management.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * A tenant owner rotates the tenant's data key over the API (`POST /v1/tenant/keys/rotation`), the twin of
 * `parley keys rotate-data-key`. Attacks tried: an admin, a compliance officer and a member asking (403: the
 * permission `tenant.manage` is the owner's), an owner's token without the `admin` scope (403), each leaving
 * the key as it was; a second request (and two at once) while a rotation is pending, starting no second one;
 * another tenant's owner, whose request rotates only their own tenant's key.
 */
const password = 'lantern under the autumn bridge 7';

interface Rotation {
  dataKeyVersion: number;
  rotationPending: boolean;
  started: boolean;
}

describeEachDialect('tenant data-key rotation by the owner', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let other: SignedIn;
  let keys: KeyManagement;
  const people: Record<string, string> = {};

  beforeAll(async () => {
    // The server's own re-encryption pass is held off: the test decides when a re-wrap ends.
    server = await startTestServer({ dialect, env: { PARLEY_REENCRYPT_INTERVAL_SECONDS: '86400' } });
    owner = await newTenantOwner(server, 'Rotating Clinic');
    other = await newTenantOwner(server, 'Other Clinic');
    keys = createKeyManagement({
      storage: server.app.storage,
      keyring: server.app.security.keyring,
      clock: systemClock,
    });
    for (const role of ['admin', 'compliance_officer', 'member']) {
      const email = `${role}-${dialect}@rotation.example`;
      const created = await server.request(
        '/v1/users',
        json({ displayName: role, email, password, roles: [role] }, owner.accessToken),
      );
      expect(created.status, created.text).toBe(201);
      people[role] = (
        await signIn(server, owner.tenantId, email, password, 'profile admin audit')
      ).accessToken;
    }
  });
  afterAll(async () => {
    await server.close();
  });

  const rotate = (token: string) => server.request('/v1/tenant/keys/rotation', bearer(token, 'POST'));
  const rotated = async (token: string) => {
    const response = await rotate(token);
    expect(response.status, response.text).toBe(202);
    return response.json<Rotation>();
  };
  const keyControl = async (token: string): Promise<ComplianceControl> => {
    const response = await server.request('/v1/compliance/report?format=json', bearer(token));
    expect(response.status, response.text).toBe(200);
    const control = response
      .json<SignedComplianceReport>()
      .report.controls.find((candidate) => candidate.id === 'key_management');
    if (!control) throw new Error('no key_management control');
    return control;
  };
  const dataKeyVersion = async (token: string) =>
    ((await keyControl(token)).evidence.keys as { kind?: string; purpose?: string; version?: number }[]).find(
      (key) => key.kind === 'tenant' && key.purpose === 'data',
    )?.version;
  const rotationEntries = async (token: string) => {
    const response = await server.request('/v1/audit?action=keys.data_key_rotated', bearer(token));
    expect(response.status, response.text).toBe(200);
    return response.json<{
      entries: { actor: { type: string; id: string }; details: Record<string, unknown> }[];
    }>().entries;
  };

  it('is refused to an admin, a compliance officer, a member and an owner token without the admin scope; the key stays', async () => {
    const narrow = await signIn(
      server,
      owner.tenantId,
      owner.email,
      'correct horse battery staple 2024',
      'profile audit',
    );
    for (const token of [people.admin, people.compliance_officer, people.member, narrow.accessToken]) {
      const response = await rotate(token ?? '');
      expect(response.status, response.text).toBe(403);
      expect(response.json<{ error: { code: string; requestId: string } }>().error).toMatchObject({
        code: expect.any(String),
        requestId: expect.any(String),
      });
    }
    expect(await dataKeyVersion(owner.accessToken)).toBe(1);
    expect((await keyControl(owner.accessToken)).evidence.tenantRotationPending).toBe(false);
    expect(await rotationEntries(owner.accessToken)).toEqual([]);
  });

  it('rotates once for the owner, audited; asking again while the re-wrap is pending starts none', async () => {
    expect(await rotated(owner.accessToken)).toEqual({
      dataKeyVersion: 2,
      rotationPending: true,
      started: true,
    });
    expect(await rotated(owner.accessToken)).toEqual({
      dataKeyVersion: 2,
      rotationPending: true,
      started: false,
    });
    const control = await keyControl(owner.accessToken);
    expect(control.evidence.tenantRotationPending).toBe(true);
    expect(await dataKeyVersion(owner.accessToken)).toBe(2);
    const entries = await rotationEntries(owner.accessToken);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor: expect.objectContaining({ type: 'user', id: owner.userId }),
      details: { dataKeyVersion: 2 },
    });
    // What was sealed under version 1 still opens: the owner's own profile reads as before.
    const me = await server.request('/v1/me', bearer(owner.accessToken));
    expect(me.status, me.text).toBe(200);
    expect(me.json<{ email: string }>().email).toBe(owner.email);

    // The re-wrap ends; two requests at once then start exactly one rotation.
    expect((await keys.reencryptPending()).tenants).toBe(1);
    expect((await keyControl(owner.accessToken)).evidence.tenantRotationPending).toBe(false);
    const both = await Promise.all([rotated(owner.accessToken), rotated(owner.accessToken)]);
    expect(both.map((answer) => answer.dataKeyVersion)).toEqual([3, 3]);
    expect(both.filter((answer) => answer.started)).toHaveLength(1);
    expect(await rotationEntries(owner.accessToken)).toHaveLength(2);
    await keys.reencryptPending();
  });

  it('rotates only the caller’s own tenant: the other tenant’s key, flag and audit log are untouched, and its owner rotates its own', async () => {
    expect(await dataKeyVersion(other.accessToken)).toBe(1);
    expect((await keyControl(other.accessToken)).evidence.tenantRotationPending).toBe(false);
    expect(await rotationEntries(other.accessToken)).toEqual([]);
    expect(await rotated(other.accessToken)).toEqual({
      dataKeyVersion: 2,
      rotationPending: true,
      started: true,
    });
    expect(await dataKeyVersion(owner.accessToken)).toBe(3);
    expect((await keyControl(owner.accessToken)).evidence.tenantRotationPending).toBe(false);
    expect(await rotationEntries(owner.accessToken)).toHaveLength(2);
    expect(await rotationEntries(other.accessToken)).toEqual([
      expect.objectContaining({ actor: expect.objectContaining({ type: 'user', id: other.userId }) }),
    ]);
  });
});
