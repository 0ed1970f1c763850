import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantTx } from '../../src/storage/database.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

interface Verification {
  ok: boolean;
  entries: number;
  firstBad?: { seq: number; reason: string };
  verifiedAt: string;
}

/**
 * `POST /v1/audit/verification`: a tenant's compliance officer recomputes their own chain. Attacks tried: an
 * entry edited in the database (reported at its seq, for that tenant only), a member asking, and a token
 * without the `audit` scope.
 */
describeEachDialect('POST /v1/audit/verification', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let other: SignedIn;
  let officerToken: string;
  const password = 'plum tree under the winter moon';

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Verified Clinic');
    other = await newTenantOwner(server, 'Other Clinic');
    for (const [role, email] of [
      ['compliance_officer', 'officer@verified.example'],
      ['member', 'member@verified.example'],
    ] as const) {
      const created = await server.request(
        '/v1/users',
        json({ displayName: role, email, password, roles: [role] }, owner.accessToken),
      );
      expect(created.status).toBe(201);
    }
    officerToken = (
      await signIn(server, owner.tenantId, 'officer@verified.example', password, 'profile audit')
    ).accessToken;
  });
  afterAll(async () => {
    await server.close();
  });

  const verify = async (token: string) => {
    const response = await server.request('/v1/audit/verification', bearer(token, 'POST'));
    return {
      status: response.status,
      body: response.status === 200 ? response.json<Verification>() : undefined,
      text: response.text,
    };
  };

  it('answers an intact chain and records that it was verified', async () => {
    const answer = await verify(officerToken);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body).toMatchObject({ ok: true });
    expect(answer.body?.entries).toBeGreaterThan(3);
    expect(Date.parse(answer.body?.verifiedAt ?? '')).not.toBeNaN();
    const log = await server.request('/v1/audit?action=audit.verified', bearer(officerToken));
    const { entries } = log.json<{ entries: { action: string; details: Record<string, unknown> }[] }>();
    expect(entries[0]).toMatchObject({ action: 'audit.verified', details: { intact: true } });
  });

  it('is refused to a member, and to a token without the audit scope', async () => {
    const member = await signIn(server, owner.tenantId, 'member@verified.example', password, 'profile audit');
    expect((await verify(member.accessToken)).status).toBe(403);
    const narrow = await signIn(
      server,
      owner.tenantId,
      'officer@verified.example',
      password,
      'profile admin',
    );
    expect((await verify(narrow.accessToken)).status).toBe(403);
  });

  it('names the first entry edited in the database, for that tenant only', async () => {
    const seq = 3;
    await server.app.storage.withSystem(async (tx) => {
      if (dialect === 'postgres')
        await sql`select set_config('app.tenant_id', ${owner.tenantId}, true)`.execute(tx);
      await (tx as unknown as TenantTx)
        .updateTable('audit_log')
        .set({ action: 'auth.logout' })
        .where('tenant_id', '=', owner.tenantId)
        .where('seq', '=', seq)
        .execute();
    });
    const answer = await verify(officerToken);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      ok: false,
      entries: seq - 1,
      firstBad: { seq, reason: 'hash mismatch' },
    });
    const log = await server.request('/v1/audit?action=audit.verified', bearer(officerToken));
    expect(log.json<{ entries: { details: Record<string, unknown> }[] }>().entries[0]?.details).toMatchObject(
      {
        intact: false,
        firstBadSeq: seq,
        reason: 'hash mismatch',
      },
    );
    const otherAnswer = await verify(other.accessToken);
    expect(otherAnswer.body).toMatchObject({ ok: true });
  });
});
