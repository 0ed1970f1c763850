import type { SupportScope } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialect } from '../../support/dialects.ts';
import {
  json,
  memberPassword,
  newMember,
  newTenantOwner,
  type SignedIn,
  signIn,
} from '../../support/identity-fixtures.ts';
import { ManualClock, newStaff, type SignedInStaff } from '../../support/staff-fixtures.ts';
import { startTestServer, type TestResponse, type TestServer } from '../../support/start-server.ts';

/**
 * Support access grants (issue 17, points 2 and 7). Attacks tried: a grant used before approval, after expiry
 * or revocation, or after the tenant forbade support access; a request wider than the approved scope (another
 * operation, or a write under a read-only scope); a widened approval; a grant used by another staff member or
 * on another tenant; self-approval by staff under a grant; replayed approvals and decisions on decided
 * requests; an admin of tenant A deciding tenant B's request. Each is refused, and recorded where it reached a
 * tenant.
 */
describeEachDialect('support access grants', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock();
  let ownerA: SignedIn;
  let ownerB: SignedIn;
  let memberA: { userId: string; email: string };
  let support: SignedInStaff;
  let otherSupport: SignedInStaff;

  beforeAll(async () => {
    server = await startTestServer({ dialect, clock });
    ownerA = await newTenantOwner(server, 'Tenant A');
    ownerB = await newTenantOwner(server, 'Tenant B');
    const email = 'mia@tenant-a.example';
    const member = await newMember(server, ownerA, email, 'profile chat admin');
    memberA = { userId: member.userId, email };
    support = await newStaff(server, 'support', clock);
    otherSupport = await newStaff(server, 'support', clock);
  });
  afterAll(async () => {
    await server.close();
  });

  type Grant = { id: string; status: string; scope: string; durationHours: number; expiresAt: string | null };
  const ask = async (
    staff: SignedInStaff,
    tenantId: string,
    scope: SupportScope,
    durationHours = 4,
  ): Promise<TestResponse> =>
    server.request(
      '/v1/platform/support-grants',
      json(
        { tenantId, reason: 'Customer ticket 4711: sign-in trouble.', scope, durationHours },
        staff.accessToken,
      ),
    );
  const requested = async (staff: SignedInStaff, tenantId: string, scope: SupportScope, hours = 4) => {
    const response = await ask(staff, tenantId, scope, hours);
    expect(response.status, response.text).toBe(201);
    return response.json<Grant>();
  };
  const decide = (
    owner: SignedIn,
    grantId: string,
    verb: 'approve' | 'refuse' | 'revoke',
    body: unknown = {},
  ) => server.request(`/v1/support-grants/${grantId}/${verb}`, json(body, owner.accessToken));
  const approved = async (staff: SignedInStaff, scope: SupportScope, hours = 4) => {
    const grant = await requested(staff, ownerA.tenantId, scope, hours);
    const response = await decide(ownerA, grant.id, 'approve');
    expect(response.status, response.text).toBe(200);
    return response.json<Grant>();
  };
  const underGrant = (
    staff: SignedInStaff,
    grantId: string,
    path: string,
    method = 'GET',
    body?: unknown,
  ): Promise<TestResponse> =>
    server.request(path, {
      method,
      headers: {
        authorization: `Bearer ${staff.accessToken}`,
        'parley-support-grant': grantId,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const code = (response: TestResponse) => response.json<{ error: { code: string } }>().error.code;
  const memberStatus = async () =>
    (await server.app.services.users.getUser(ownerA.tenantId, memberA.userId)).status;

  it('lets staff act only once approved, with exactly the approved scope, read-only, each request recorded', async () => {
    const grant = await requested(support, ownerA.tenantId, 'metadata');
    expect(grant).toMatchObject({ status: 'pending', scope: 'metadata', expiresAt: null });
    const listed = await server.request('/v1/support-grants', {
      headers: { authorization: `Bearer ${ownerA.accessToken}` },
    });
    expect(listed.json<{ grants: Grant[] }>().grants).toContainEqual(
      expect.objectContaining({
        id: grant.id,
        status: 'pending',
        reason: 'Customer ticket 4711: sign-in trouble.',
      }),
    );

    const early = await underGrant(support, grant.id, '/v1/tenant/settings');
    expect([early.status, code(early)]).toEqual([403, 'grant_not_approved']);

    const approval = await decide(ownerA, grant.id, 'approve');
    expect(approval.status, approval.text).toBe(200);
    expect(Date.parse(String(approval.json().expiresAt))).toBe(clock.now() + 4 * 3600_000);

    expect((await underGrant(support, grant.id, '/v1/tenant/settings')).status).toBe(200);
    const lookup = await underGrant(
      support,
      grant.id,
      `/v1/users?email=${encodeURIComponent(memberA.email)}`,
    );
    expect(lookup.status).toBe(200);
    expect(lookup.json<{ users: { id: string }[] }>().users.map((user) => user.id)).toEqual([memberA.userId]);

    // Wider than approved: a write under a read-only scope, and an operation outside the scope.
    const write = await underGrant(support, grant.id, `/v1/users/${memberA.userId}`, 'PATCH', {
      status: 'deactivated',
    });
    expect([write.status, code(write)]).toEqual([403, 'support_scope_exceeded']);
    expect(await memberStatus()).toBe('active');
    const audit = await underGrant(support, grant.id, '/v1/audit');
    expect([audit.status, code(audit)]).toEqual([403, 'support_scope_exceeded']);
    // The metadata scope finds a user by exact address; it never lists the tenant's whole directory.
    const directory = await underGrant(support, grant.id, '/v1/tenant/users');
    expect([directory.status, code(directory)]).toEqual([403, 'support_scope_exceeded']);
    expect(directory.text).not.toContain(memberA.email);
    // Without naming the grant, the staff token reaches nothing in the tenant.
    const bare = await server.request('/v1/tenant/settings', {
      headers: { authorization: `Bearer ${support.accessToken}` },
    });
    expect(bare.status).toBe(404);

    const accesses = await server.request(`/v1/support-grants/${grant.id}/accesses`, {
      headers: { authorization: `Bearer ${ownerA.accessToken}` },
    });
    expect(accesses.status).toBe(200);
    const lines = accesses.json<{
      accesses: {
        operation: string;
        outcome: string;
        refusal: string | null;
        path: string;
        staffId: string;
      }[];
    }>().accesses;
    expect(lines.map((line) => [line.operation, line.outcome, line.refusal])).toEqual([
      ['getTenantSettings', 'denied', 'grant_not_approved'],
      ['getTenantSettings', 'success', null],
      ['listUsers', 'success', null],
      ['setUserStatus', 'denied', 'support_scope_exceeded'],
      ['listAuditEntries', 'denied', 'support_scope_exceeded'],
      ['listTenantUsers', 'denied', 'support_scope_exceeded'],
    ]);
    expect(lines.every((line) => line.staffId === support.id)).toBe(true);
    // The query string (an e-mail address here) is never recorded.
    expect(accesses.text).not.toContain(memberA.email);
    expect((await server.app.services.audit.verify(server.app.storage, ownerA.tenantId)).ok).toBe(true);
  });

  it('approves narrower than asked, never wider; user administration writes only under user_admin', async () => {
    const asked = await requested(support, ownerA.tenantId, 'user_admin', 10);
    const widened = await decide(ownerA, asked.id, 'approve', { durationHours: 20 });
    expect([widened.status, code(widened)]).toEqual([400, 'validation_failed']);
    const narrowed = await decide(ownerA, asked.id, 'approve', { scope: 'metadata', durationHours: 2 });
    expect(narrowed.json()).toMatchObject({ status: 'approved', scope: 'metadata', durationHours: 2 });
    const refused = await underGrant(support, asked.id, `/v1/users/${memberA.userId}`, 'PATCH', {
      status: 'deactivated',
    });
    expect(code(refused)).toBe('support_scope_exceeded');

    const metadataOnly = await requested(support, ownerA.tenantId, 'metadata');
    const widenScope = await decide(ownerA, metadataOnly.id, 'approve', { scope: 'user_admin' });
    expect([widenScope.status, code(widenScope)]).toEqual([400, 'validation_failed']);

    const admin = await approved(support, 'user_admin');
    const deactivated = await underGrant(support, admin.id, `/v1/users/${memberA.userId}`, 'PATCH', {
      status: 'deactivated',
    });
    expect(deactivated.status, deactivated.text).toBe(204);
    expect(await memberStatus()).toBe('deactivated');
    const reactivated = await underGrant(support, admin.id, `/v1/users/${memberA.userId}`, 'PATCH', {
      status: 'active',
    });
    expect(reactivated.status).toBe(204);
    // The change itself names the staff member, not an anonymous client.
    const page = await server.app.storage.withTenant(ownerA.tenantId, (tx) =>
      server.app.services.audit.query(
        tx,
        ownerA.tenantId,
        { actorType: 'staff', targetId: memberA.userId },
        {
          limit: 50,
          order: 'asc',
        },
      ),
    );
    expect(page.entries.length).toBeGreaterThan(0);
    expect(page.entries.every((entry) => entry.actor.id === support.id)).toBe(true);
  });

  it('stops a revoked grant on its next request; decisions are never replayed', async () => {
    const grant = await approved(support, 'metadata');
    expect((await underGrant(support, grant.id, '/v1/tenant/settings')).status).toBe(200);
    expect((await decide(ownerA, grant.id, 'revoke')).status).toBe(200);
    const revoked = await underGrant(support, grant.id, '/v1/tenant/settings');
    expect([revoked.status, code(revoked)]).toEqual([403, 'grant_revoked']);
    for (const verb of ['approve', 'revoke', 'refuse'] as const) {
      const replay = await decide(ownerA, grant.id, verb);
      expect([replay.status, code(replay)], verb).toEqual([409, 'grant_not_pending']);
    }
    const twice = await requested(support, ownerA.tenantId, 'metadata');
    expect((await decide(ownerA, twice.id, 'approve')).status).toBe(200);
    const again = await decide(ownerA, twice.id, 'approve', { durationHours: 1 });
    expect([again.status, code(again)]).toEqual([409, 'grant_not_pending']);
    const refusedOne = await requested(support, ownerA.tenantId, 'metadata');
    expect((await decide(ownerA, refusedOne.id, 'refuse')).status).toBe(200);
    const approveRefused = await decide(ownerA, refusedOne.id, 'approve');
    expect([approveRefused.status, code(approveRefused)]).toEqual([409, 'grant_not_pending']);
    expect(code(await underGrant(support, refusedOne.id, '/v1/tenant/settings'))).toBe('grant_not_approved');
  });

  it('lets a messages grant read the history of the approved dialogs only, and never write', async () => {
    const dialog = async (name: string, body: string) => {
      const created = await server.request('/v1/dialogs', json({ type: 'public', name }, ownerA.accessToken));
      expect(created.status, created.text).toBe(201);
      const id = created.json<{ id: string }>().id;
      const sent = await server.request(
        `/v1/dialogs/${id}/messages`,
        json({ clientId: `${name}-1`, body }, ownerA.accessToken),
      );
      expect(sent.status, sent.text).toBe(201);
      return id;
    };
    const ticket = await dialog('Ticket 4711', 'The sign-in page shows an error.');
    const private_ = await dialog('Board', 'Quarterly numbers, not for support.');

    const noDialogs = await ask(support, ownerA.tenantId, 'messages');
    expect(noDialogs.status).toBe(400);
    const asked = await server.request(
      '/v1/platform/support-grants',
      json(
        {
          tenantId: ownerA.tenantId,
          reason: 'Ticket 4711: read what the user reported.',
          scope: 'messages',
          dialogIds: [ticket, private_],
          durationHours: 2,
        },
        support.accessToken,
      ),
    );
    expect(asked.status, asked.text).toBe(201);
    const grantId = asked.json<Grant>().id;
    const other = await decide(ownerA, grantId, 'approve', {
      dialogIds: ['00000000-0000-4000-8000-000000000000'],
    });
    expect([other.status, code(other)]).toEqual([400, 'validation_failed']);
    const narrowed = await decide(ownerA, grantId, 'approve', { dialogIds: [ticket] });
    expect(narrowed.json()).toMatchObject({ status: 'approved', scope: 'messages', dialogIds: [ticket] });

    const read = await underGrant(support, grantId, `/v1/dialogs/${ticket}/messages`);
    expect(read.status, read.text).toBe(200);
    expect(read.text).toContain('The sign-in page shows an error.');
    for (const [path, method, body] of [
      [`/v1/dialogs/${private_}/messages`, 'GET', undefined],
      [`/v1/dialogs/${ticket}/messages`, 'POST', { clientId: 'staff', body: 'Hello from support' }],
      [`/v1/dialogs/${ticket}`, 'GET', undefined],
      ['/v1/tenant/settings', 'GET', undefined],
    ] as const) {
      const refused = await underGrant(support, grantId, path, method, body);
      expect([refused.status, code(refused)], `${method} ${path}`).toEqual([403, 'support_scope_exceeded']);
    }
    expect(read.text).not.toContain('Quarterly numbers');
    const accesses = await server.request(`/v1/support-grants/${grantId}/accesses`, {
      headers: { authorization: `Bearer ${ownerA.accessToken}` },
    });
    const lines = accesses.json<{ accesses: { operation: string; path: string; outcome: string }[] }>()
      .accesses;
    expect(lines[0]).toMatchObject({
      operation: 'listMessages',
      path: `/v1/dialogs/${ticket}/messages`,
      outcome: 'success',
    });
    expect(lines.filter((line) => line.outcome === 'denied')).toHaveLength(4);
  });

  it('refuses self-approval: staff under a grant cannot decide any support request', async () => {
    const mine = await approved(support, 'user_admin');
    const pending = await requested(support, ownerA.tenantId, 'user_admin');
    for (const verb of ['approve', 'refuse'] as const) {
      const self = await underGrant(support, mine.id, `/v1/support-grants/${pending.id}/${verb}`, 'POST', {});
      expect([self.status, code(self)], verb).toEqual([403, 'self_approval']);
    }
    const policy = await underGrant(support, mine.id, '/v1/support-policy', 'PUT', { allowed: true });
    expect(code(policy)).toBe('self_approval');
    // And without a grant the staff token does not even see the route.
    const bare = await server.request(
      `/v1/support-grants/${pending.id}/approve`,
      json({}, support.accessToken),
    );
    expect(bare.status).toBe(404);
    const row = await server.app.services.supportGrants.listForTenant(ownerA.tenantId);
    expect(row.find((grant) => grant.id === pending.id)?.status).toBe('pending');
  });

  it('keeps a grant to its staff member and its tenant', async () => {
    const grant = await approved(support, 'metadata');
    // Another staff member presenting it: as if it did not exist.
    const stolen = await underGrant(otherSupport, grant.id, '/v1/tenant/settings');
    expect([stolen.status, code(stolen)]).toEqual([404, 'not_found']);
    // Under tenant A's grant, tenant B's users are out of reach.
    const crossing = await underGrant(
      support,
      grant.id,
      `/v1/users?email=${encodeURIComponent(ownerB.email)}`,
    );
    expect(crossing.status).toBe(200);
    expect(crossing.json<{ users: unknown[] }>().users).toEqual([]);
    // Tenant A's admin deciding tenant B's request: 404, and it stays pending.
    const forB = await requested(support, ownerB.tenantId, 'metadata');
    for (const verb of ['approve', 'refuse', 'revoke'] as const) {
      const response = await decide(ownerA, forB.id, verb);
      expect(response.status, verb).toBe(404);
    }
    const accesses = await server.request(`/v1/support-grants/${forB.id}/accesses`, {
      headers: { authorization: `Bearer ${ownerA.accessToken}` },
    });
    expect(accesses.status).toBe(404);
    expect((await server.app.services.supportGrants.listForTenant(ownerB.tenantId))[0]).toMatchObject({
      id: forB.id,
      status: 'pending',
    });
    const unapproved = await underGrant(support, forB.id, '/v1/tenant/settings');
    expect(code(unapproved)).toBe('grant_not_approved');
  });

  it('lets a tenant forbid support access altogether, stopping approved grants too', async () => {
    const grant = await approved(support, 'metadata');
    const forbid = await server.request(
      '/v1/support-policy',
      json({ allowed: false }, ownerA.accessToken, 'PUT'),
    );
    expect(forbid.status).toBe(200);
    const asked = await ask(support, ownerA.tenantId, 'metadata');
    expect([asked.status, code(asked)]).toEqual([403, 'support_access_forbidden']);
    const used = await underGrant(support, grant.id, '/v1/tenant/settings');
    expect([used.status, code(used)]).toEqual([403, 'support_access_forbidden']);
    // Tenant B is not affected.
    expect((await ask(support, ownerB.tenantId, 'metadata')).status).toBe(201);
    await server.request('/v1/support-policy', json({ allowed: true }, ownerA.accessToken, 'PUT'));
    expect((await underGrant(support, grant.id, '/v1/tenant/settings')).status).toBe(200);
  });

  describe('requests', () => {
    it('are for support staff only, at most 72 hours, to a tenant that exists', async () => {
      const admin = await newStaff(server, 'platform_admin', clock);
      const notSupport = await ask(admin, ownerA.tenantId, 'metadata');
      expect([notSupport.status, code(notSupport)]).toEqual([403, 'forbidden']);
      const tooLong = await ask(support, ownerA.tenantId, 'metadata', 73);
      expect(tooLong.status).toBe(400);
      const nowhere = await ask(support, '00000000-0000-4000-8000-000000000000', 'metadata');
      expect(nowhere.status).toBe(404);
      // A member of the tenant (no support_access.manage) cannot see or decide them.
      const member = await server.request('/v1/support-grants', {
        headers: {
          // Signed in again: the deactivation above ended the member's sessions.
          authorization: `Bearer ${(await signIn(server, ownerA.tenantId, memberA.email, memberPassword, 'profile chat admin')).accessToken}`,
        },
      });
      expect(member.status).toBe(403);
    });
  });

  // Last: moving the clock past an hour also expires the tenant users' access tokens.
  it('ends a grant by itself at its expiry, checked against the clock on every request', async () => {
    const grant = await approved(support, 'metadata', 1);
    clock.advance(3600_000 - 1);
    expect((await underGrant(support, grant.id, '/v1/tenant/settings')).status).toBe(200);
    clock.advance(1);
    const expired = await underGrant(support, grant.id, '/v1/tenant/settings');
    expect([expired.status, code(expired)]).toEqual([403, 'grant_expired']);
  });
});
