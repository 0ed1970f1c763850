import type { DataSubjectRequestBody, OwnDataSubjectRequestBody } from '@parley/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../support/dialects.ts';
import { carries, closeOf, newVictim, sendText } from '../../support/ended-session-fixtures.ts';
import {
  bearer,
  json,
  memberPassword,
  newMember,
  newTenantOwner,
  type SignedIn,
  signIn,
  tokenRequest,
} from '../../support/identity-fixtures.ts';
import { openSocket } from '../../support/realtime-socket.ts';
import { startTestServer, type TestResponse, type TestServer } from '../../support/start-server.ts';
import { enrolTotp } from '../../support/mfa-fixtures.ts';
import { exportAndUnpack } from './export-download.ts';
import { readArchiveFiles } from './export-expectations.ts';
import { auditEntries, storedRequestsOf } from './gdpr-fixtures.ts';

/**
 * Restriction of processing (GDPR Art. 18). Attack: an account frozen by an administrator goes on being
 * used — through a session opened before (REST or an open realtime socket that keeps receiving), a refresh
 * token, a fresh sign-in, or an administrator reactivating or editing it by another door.
 */
const UNAUTHORIZED = 4001;

describeEachDialect('restriction of processing', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;

  const restrict = (userId: string, body: unknown, token = owner.accessToken) =>
    server.request(`/v1/users/${userId}/restriction`, json(body, token));
  const lift = (userId: string, body: unknown, token = owner.accessToken) =>
    server.request(`/v1/users/${userId}/restriction/lift`, json(body, token));
  const passwordGrant = (email: string, password = memberPassword) =>
    tokenRequest(server, { grant_type: 'password', tenant_id: owner.tenantId, username: email, password });
  const codeOf = (response: TestResponse) => response.json<{ error: { code: string } }>().error.code;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Frozen Accounts');
  });

  afterAll(async () => {
    await server.close();
  });

  it('ends every session at once: the open socket closes, REST and refresh are refused, nothing more arrives', async () => {
    const victim = await newVictim(server, owner, 'frozen');
    const socket = await openSocket(server, victim.token);
    await sendText(server, owner.accessToken, victim.dialogId, 'before the restriction');
    await socket.next(carries('before the restriction'));
    const closed = closeOf(socket);

    const restricted = await restrict(victim.userId, {
      reason: 'Accuracy contested by the user (Art. 18(1)(a)).',
    });
    expect(restricted.status, restricted.text).toBe(201);
    await sendText(server, owner.accessToken, victim.dialogId, 'after the restriction');

    expect((await closed).code).toBe(UNAUTHORIZED);
    expect(socket.frames.some(carries('after the restriction'))).toBe(false);
    const me = await server.request('/v1/me', bearer(victim.token));
    expect(me.status).toBe(401);
    const refreshed = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: victim.refreshToken,
    });
    expect(refreshed.status).toBe(400);
    expect(refreshed.json<{ error: string }>().error).toBe('invalid_grant');
  });

  it('refuses sign-in with account_restricted, told only to whoever knows the password', async () => {
    const email = `signin-${Date.now()}@frozen.example`;
    const member = await newMember(server, owner, email);
    expect((await restrict(member.userId, { reason: 'Objection under review.' })).status).toBe(201);

    const right = await passwordGrant(email);
    expect(right.status).toBe(403);
    expect(right.json<{ error: string }>().error).toBe('account_restricted');
    const wrong = await passwordGrant(email, 'not the password at all, sorry');
    expect(wrong.status).toBe(400);
    expect(wrong.json<{ error: string }>().error).toBe('invalid_grant');

    const refused = await auditEntries(server, owner.tenantId, 'auth.login_refused_restricted');
    expect(refused.map((entry) => entry.target_id)).toContain(member.userId);
  });

  it('nothing new is processed: no profile change, no status change, no new dialog; the data is kept', async () => {
    const email = `still-${Date.now()}@frozen.example`;
    const member = await newMember(server, owner, email);
    expect((await restrict(member.userId, { reason: 'Restricted during a dispute.' })).status).toBe(201);

    const rectified = await server.request(
      `/v1/users/${member.userId}/rectification`,
      json({ changes: { displayName: 'Renamed' } }, owner.accessToken),
    );
    expect(rectified.status).toBe(403);
    expect(codeOf(rectified)).toBe('account_restricted');
    const reactivated = await server.request(
      `/v1/users/${member.userId}`,
      json({ status: 'active' }, owner.accessToken, 'PATCH'),
    );
    expect(reactivated.status).toBe(403);
    expect(codeOf(reactivated)).toBe('account_restricted');
    const dialog = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'New group', memberIds: [member.userId] }, owner.accessToken),
    );
    expect(dialog.status).toBe(404);

    // The data is kept and still readable by administrators.
    const user = await server.app.services.users.getUser(owner.tenantId, member.userId);
    expect(user).toMatchObject({ status: 'restricted', email });
  });

  it('an administrator cannot change a restricted account’s roles or second factor, nor rectify it unasked', async () => {
    const email = `frozen-roles-${Date.now()}@frozen.example`;
    const member = await newMember(server, owner, email);
    const { recoveryCodes } = await enrolTotp(server, member.token, memberPassword);
    // The user contests the accuracy of their data and asks for a correction; processing is restricted meanwhile.
    const filed = await server.request(
      '/v1/me/privacy-requests',
      json({ kind: 'rectification' }, member.token),
    );
    expect(filed.status, filed.text).toBe(201);
    const rectification = filed.json<OwnDataSubjectRequestBody>();
    expect((await restrict(member.userId, { reason: 'Accuracy contested.' })).status).toBe(201);
    const stored = () =>
      server.app.storage.withTenant(owner.tenantId, async (tx) => ({
        roles: (
          await tx
            .selectFrom('user_roles')
            .select('role')
            .where('tenant_id', '=', owner.tenantId)
            .where('user_id', '=', member.userId)
            .execute()
        ).map((row) => row.role),
        mfa: (
          await tx
            .selectFrom('users')
            .select('totp_enabled_at')
            .where('tenant_id', '=', owner.tenantId)
            .where('id', '=', member.userId)
            .executeTakeFirstOrThrow()
        ).totp_enabled_at,
      }));
    const before = await stored();
    expect(before).toEqual({ roles: ['member'], mfa: expect.any(Number) });

    // Attack: the frozen account is changed by another door, an administrator granting it a role or
    // stripping its second factor (so someone could take it over once the restriction is lifted).
    const promoted = await server.request(
      `/v1/users/${member.userId}/roles`,
      json({ roles: ['admin'] }, owner.accessToken, 'PUT'),
    );
    expect(promoted.status, promoted.text).toBe(403);
    expect(codeOf(promoted)).toBe('account_restricted');
    const reset = await server.request(`/v1/users/${member.userId}/mfa`, bearer(owner.accessToken, 'DELETE'));
    expect(reset.status, reset.text).toBe(403);
    expect(codeOf(reset)).toBe('account_restricted');
    // A correction the user did not ask for is refused; one answering their own request of another kind too.
    const unasked = await server.request(
      `/v1/users/${member.userId}/rectification`,
      json({ changes: { displayName: 'Renamed' } }, owner.accessToken),
    );
    expect(unasked.status).toBe(403);
    expect(codeOf(unasked)).toBe('account_restricted');
    const objection = (
      await server.request(
        '/v1/me/privacy-requests',
        json({ kind: 'objection' }, (await newMember(server, owner, `x-${Date.now()}@frozen.example`)).token),
      )
    ).json<OwnDataSubjectRequestBody>();
    const foreign = await server.request(
      `/v1/users/${member.userId}/rectification`,
      json({ changes: { displayName: 'Renamed' }, requestId: objection.id }, owner.accessToken),
    );
    expect(foreign.status).toBe(409);
    expect(await stored()).toEqual(before);
    expect((await server.app.services.users.getUser(owner.tenantId, member.userId)).displayName).not.toBe(
      'Corrected Name',
    );

    // The correction the user asked for is what the restriction waits for: allowed, and audited as such.
    const answered = await server.request(
      `/v1/users/${member.userId}/rectification`,
      json({ changes: { displayName: 'Corrected Name' }, requestId: rectification.id }, owner.accessToken),
    );
    expect(answered.status, answered.text).toBe(200);
    expect(await server.app.services.users.getUser(owner.tenantId, member.userId)).toMatchObject({
      status: 'restricted',
      displayName: 'Corrected Name',
    });
    const audited = await auditEntries(server, owner.tenantId, 'privacy.rectified');
    const entry = audited.find((row) => row.target_id === member.userId);
    expect(JSON.parse(entry?.details ?? '{}')).toMatchObject({
      requestId: rectification.id,
      whileRestricted: true,
    });

    // Once lifted, the account is an ordinary one again.
    expect((await lift(member.userId, { reason: 'Corrected.' })).status).toBe(204);
    const later = await server.request(
      `/v1/users/${member.userId}/roles`,
      json({ roles: ['member', 'admin'] }, owner.accessToken, 'PUT'),
    );
    expect(later.status, later.text).toBe(204);
    expect(recoveryCodes).toHaveLength(10);
    const resetLater = await server.request(
      `/v1/users/${member.userId}/mfa`,
      bearer(owner.accessToken, 'DELETE'),
    );
    expect(resetLater.status, resetLater.text).toBe(204);
  });

  it('is recorded as a completed restriction request, audited, with its reason sealed', async () => {
    const member = await newMember(server, owner, `recorded-${Date.now()}@frozen.example`);
    const restricted = await restrict(member.userId, { reason: 'Unlawful processing claimed by the user.' });
    const { requestId, restrictionId } = restricted.json<{ requestId: string; restrictionId: string }>();
    const [request] = await storedRequestsOf(server, owner.tenantId, member.userId);
    expect(request).toMatchObject({
      id: requestId,
      kind: 'restriction',
      source: 'admin',
      status: 'completed',
      requested_by: owner.userId,
      handled_by: owner.userId,
    });
    const entries = await auditEntries(server, owner.tenantId, 'privacy.processing_restricted');
    const entry = entries.find((candidate) => candidate.target_id === member.userId);
    expect(JSON.parse(entry?.details ?? '{}')).toEqual({ requestId, restrictionId });

    const stored = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .selectFrom('user_restrictions')
        .selectAll()
        .where('id', '=', restrictionId)
        .executeTakeFirstOrThrow(),
    );
    expect(stored.reason).toMatch(/^pf1\.t\d+\./);
    expect(JSON.stringify(stored)).not.toContain('Unlawful');
    const history = await server.request(
      `/v1/users/${member.userId}/restrictions`,
      bearer(owner.accessToken),
    );
    expect(history.json<{ restrictions: unknown[] }>().restrictions).toEqual([
      expect.objectContaining({
        id: restrictionId,
        requestId,
        reason: 'Unlawful processing claimed by the user.',
        restrictedBy: owner.userId,
        liftedAt: null,
      }),
    ]);

    // The restricted account's data stays exportable, the restriction and its reason with it (Art. 15).
    const { exported, files } = await exportAndUnpack(
      server,
      owner.accessToken,
      `/v1/users/${member.userId}/exports`,
      (id) => `/v1/exports/${id}`,
    );
    expect(readArchiveFiles(files, exported.id).records.restrictions).toEqual([
      {
        id: restrictionId,
        requestId,
        reason: 'Unlawful processing claimed by the user.',
        restrictedBy: expect.stringMatching(/^anon_[0-9a-f]{16}$/),
        restrictedAt: expect.any(String),
        liftReason: null,
        liftedBy: null,
        liftedAt: null,
      },
    ]);
  });

  it('answers the objection the user filed, and completes it', async () => {
    const email = `objects-${Date.now()}@frozen.example`;
    const member = await newMember(server, owner, email);
    const filed = await server.request('/v1/me/privacy-requests', json({ kind: 'objection' }, member.token));
    const objection = filed.json<OwnDataSubjectRequestBody>();
    const other = await newMember(server, owner, `other-${Date.now()}@frozen.example`);

    // A request of someone else, or of another kind, is not the one this restriction answers.
    const wrongSubject = await restrict(other.userId, { reason: 'x', requestId: objection.id });
    expect(wrongSubject.status).toBe(409);
    const restricted = await restrict(member.userId, {
      reason: 'Objection upheld.',
      requestId: objection.id,
    });
    expect(restricted.status, restricted.text).toBe(201);
    expect(restricted.json<{ requestId: string }>().requestId).toBe(objection.id);
    const answered = await server.request(`/v1/privacy/requests/${objection.id}`, bearer(owner.accessToken));
    expect(answered.json<DataSubjectRequestBody>()).toMatchObject({
      status: 'completed',
      outcome: 'Processing of the account was restricted.',
    });
  });

  it('lifting restores sign-in and the status the account had; each is refused twice', async () => {
    const email = `lifted-${Date.now()}@frozen.example`;
    const member = await newMember(server, owner, email);
    expect((await restrict(member.userId, { reason: 'Temporary.' })).status).toBe(201);
    const twice = await restrict(member.userId, { reason: 'Again.' });
    expect(twice.status).toBe(409);
    expect(codeOf(twice)).toBe('already_restricted');

    const lifted = await lift(member.userId, { reason: 'Accuracy verified.' });
    expect(lifted.status, lifted.text).toBe(204);
    const signedIn = await signIn(server, owner.tenantId, email, memberPassword, 'profile');
    expect((await server.request('/v1/me', bearer(signedIn.accessToken))).json()).toMatchObject({
      status: 'active',
    });
    const liftedTwice = await lift(member.userId, { reason: 'Again.' });
    expect(liftedTwice.status).toBe(409);
    expect(codeOf(liftedTwice)).toBe('not_restricted');
    const lifts = await auditEntries(server, owner.tenantId, 'privacy.restriction_lifted');
    expect(lifts.map((entry) => entry.target_id)).toContain(member.userId);

    // A deactivated account stays deactivated after its restriction is lifted.
    const dormant = await newMember(server, owner, `dormant-${Date.now()}@frozen.example`);
    const deactivated = await server.request(
      `/v1/users/${dormant.userId}`,
      json({ status: 'deactivated' }, owner.accessToken, 'PATCH'),
    );
    expect(deactivated.status).toBe(204);
    expect((await restrict(dormant.userId, { reason: 'Frozen.' })).status).toBe(201);
    expect((await lift(dormant.userId, { reason: 'Done.' })).status).toBe(204);
    const user = await server.app.services.users.getUser(owner.tenantId, dormant.userId);
    expect(user.status).toBe('deactivated');
  });

  it('only owners act on owners, nobody on themselves, and members not at all', async () => {
    const adminEmail = `admin-${Date.now()}@frozen.example`;
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Ada Admin', email: adminEmail, password: memberPassword, roles: ['admin'] },
        owner.accessToken,
      ),
    );
    const adminId = created.json<{ userId: string }>().userId;
    const admin = await signIn(server, owner.tenantId, adminEmail, memberPassword, 'profile admin');
    const onOwner = await restrict(owner.userId, { reason: 'Coup.' }, admin.accessToken);
    expect(onOwner.status).toBe(403);
    const onSelf = await restrict(adminId, { reason: 'Oops.' }, admin.accessToken);
    expect(onSelf.status).toBe(403);
    const member = await newMember(server, owner, `plain-${Date.now()}@frozen.example`, 'profile admin');
    const byMember = await restrict(adminId, { reason: 'Revenge.' }, member.token);
    expect(byMember.status).toBe(403);
    expect((await server.request('/v1/me', bearer(owner.accessToken))).status).toBe(200);
  });

  it("another tenant's user and their restrictions do not exist for you", async () => {
    const member = await newMember(server, owner, `guarded-${Date.now()}@frozen.example`);
    const stranger = await newTenantOwner(server, 'Other Freezer');
    const restricted = await restrict(
      member.userId,
      { reason: 'Frozen at their request.' },
      stranger.accessToken,
    );
    expect(restricted.status, restricted.text).toBe(404);
    expect((await lift(member.userId, { reason: 'Thawed.' }, stranger.accessToken)).status).toBe(404);
    const listed = await server.request(
      `/v1/users/${member.userId}/restrictions`,
      bearer(stranger.accessToken),
    );
    expect(listed.status).toBe(404);
    // Nothing changed: the member still works.
    expect((await server.request('/v1/me', bearer(member.token))).status).toBe(200);
  });
});
