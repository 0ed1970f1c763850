import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import {
  bearer,
  json,
  newTenantOwner,
  type SignedIn,
  signIn,
  tokenRequest,
} from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

interface Entry {
  seq: number;
  action: string;
  actor: { id: string | null };
  ip: string | null;
}

describeEachDialect('GET /v1/audit', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let officerToken: string;
  let memberToken: string;
  const password = 'plum tree under the winter moon';

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Audited Clinic');
    for (const [role, email] of [
      ['compliance_officer', 'officer@audited.example'],
      ['member', 'member@audited.example'],
    ] as const) {
      expect(
        (
          await server.request(
            '/v1/users',
            json({ displayName: role, email, password, roles: [role] }, owner.accessToken),
          )
        ).status,
      ).toBe(201);
    }
    officerToken = (
      await signIn(server, owner.tenantId, 'officer@audited.example', password, 'profile audit')
    ).accessToken;
    memberToken = (await signIn(server, owner.tenantId, 'member@audited.example', password, 'profile audit'))
      .accessToken;
    await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: 'member@audited.example',
      password: 'wrong one',
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('lets a compliance officer filter the log, with IPs opened and cursor pagination', async () => {
    const response = await server.request('/v1/audit?action=auth.*&order=asc&limit=2', bearer(officerToken));
    expect(response.status).toBe(200);
    const page = response.json<{ entries: Entry[]; nextCursor?: string }>();
    expect(page.entries).toHaveLength(2);
    expect(page.entries.every((entry) => entry.action.startsWith('auth.'))).toBe(true);
    expect(page.entries[0]?.ip).toBe('127.0.0.1');
    const next = await server.request(
      `/v1/audit?action=auth.*&order=asc&limit=2&cursor=${page.nextCursor ?? ''}`,
      bearer(officerToken),
    );
    const second = next.json<{ entries: Entry[] }>().entries;
    expect(second[0]?.seq).toBeGreaterThan(page.entries[1]?.seq ?? Infinity);
    const failures = await server.request('/v1/audit?action=auth.login_failed', bearer(officerToken));
    expect(failures.json<{ entries: Entry[] }>().entries).toHaveLength(1);
  });

  it('exports the selection as JSONL, equal to the paged query', async () => {
    const exported = await server.request('/v1/audit?format=jsonl&action=user.created', bearer(officerToken));
    expect(exported.headers['content-type']).toContain('application/x-ndjson');
    const lines = exported.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Entry);
    const paged = (
      await server.request('/v1/audit?action=user.created&order=asc&limit=500', bearer(officerToken))
    ).json<{ entries: Entry[] }>();
    expect(lines).toEqual(paged.entries);
    expect(lines).toHaveLength(2);
  });

  it('records every read of the audit log in the audit log', async () => {
    await server.request('/v1/audit?limit=1', bearer(officerToken));
    const reads = (
      await server.request(
        '/v1/audit?action=audit.read&limit=500',
        bearer(owner.accessToken.length > 0 ? officerToken : ''),
      )
    ).json<{ entries: Entry[] }>();
    expect(reads.entries.length).toBeGreaterThanOrEqual(4);
    const exports = (await server.request('/v1/audit?action=audit.exported', bearer(officerToken))).json<{
      entries: Entry[];
    }>();
    expect(exports.entries).toHaveLength(1);
  });

  it('refuses a member (403) and a token without the audit scope (403)', async () => {
    expect((await server.request('/v1/audit', bearer(memberToken))).status).toBe(403);
    const noScope = await signIn(server, owner.tenantId, 'officer@audited.example', password, 'profile');
    expect((await server.request('/v1/audit', bearer(noScope.accessToken))).json()).toMatchObject({
      error: { code: 'insufficient_scope' },
    });
  });

  it('keeps the chain intact through all of this', async () => {
    expect(await server.app.services.audit.verify(server.app.storage, owner.tenantId)).toMatchObject({
      ok: true,
    });
  });
});
