import { ParleyApiError, ParleyClient, MemoryTokenStore } from '@parley/client';
import type { DataSubjectRequestBody, OwnDataSubjectRequestBody, ProfileBody } from '@parley/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../support/dialects.ts';
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
import { trustingFetch } from '../../support/sdk-clients.ts';
import { type SmtpSink, startSmtpSink } from '../../support/smtp-sink.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';
import { auditEntries, storedRequestsOf } from './gdpr-fixtures.ts';

/** The token of the newest e-mail change link mailed to `address`. */
function changeToken(smtp: SmtpSink, address: string): string {
  const mail = smtp.to(address, /^Confirm your new e-mail address for Parley$/).at(-1);
  const token = /#token=(parley_ev_[A-Za-z0-9_-]+)/.exec(mail?.text ?? '')?.[1];
  if (token === undefined) throw new Error(`no e-mail change link mailed to ${address}`);
  return token;
}

describeEachDialect('rectification', (dialect) => {
  let server: TestServer;
  let smtp: SmtpSink;
  let owner: SignedIn;
  let unique = 0;
  const address = (name: string) => `${name}-${(unique += 1)}@rectify.example`;

  const rectify = (userId: string, body: unknown, token = owner.accessToken) =>
    server.request(`/v1/users/${userId}/rectification`, json(body, token));
  const profileOf = async (token: string) =>
    (await server.request('/v1/me', bearer(token))).json<ProfileBody>();
  const passwordGrant = (email: string) =>
    tokenRequest(server, {
      grant_type: 'password',
      tenant_id: owner.tenantId,
      username: email,
      password: memberPassword,
    });

  beforeAll(async () => {
    smtp = await startSmtpSink();
    server = await startTestServer({ dialect, env: { PARLEY_SMTP_URL: smtp.url } });
    owner = await newTenantOwner(server, 'Rectify GmbH');
  });

  afterAll(async () => {
    await server.close();
    await smtp.close();
  });

  it('an administrator corrects name, address and phone; audited by field names, recorded as a completed request', async () => {
    const oldEmail = address('bob');
    const bob = await newMember(server, owner, oldEmail);
    const newEmail = address('robert');
    const corrected = await rectify(bob.userId, {
      changes: { displayName: 'Robert Tables', email: newEmail, phone: '+44 20 7946 0018' },
    });
    expect(corrected.status, corrected.text).toBe(200);
    const { requestId, fields } = corrected.json<{ requestId: string; fields: string[] }>();
    expect(fields).toEqual(['displayName', 'email', 'phone']);

    expect(await profileOf(bob.token)).toMatchObject({
      displayName: 'Robert Tables',
      email: newEmail,
      emailVerified: false,
      phone: '+44 20 7946 0018',
    });
    // The address is the sign-in name: the new one works, the old one no longer does.
    expect((await passwordGrant(newEmail)).status).toBe(200);
    expect((await passwordGrant(oldEmail)).status).toBe(400);
    await server.app.services.emailFlows.drain();
    expect(smtp.to(oldEmail, /address of your Parley account was changed/)).toHaveLength(1);

    const request = await server.request(`/v1/privacy/requests/${requestId}`, bearer(owner.accessToken));
    expect(request.json<DataSubjectRequestBody>()).toMatchObject({
      subjectId: bob.userId,
      kind: 'rectification',
      source: 'admin',
      status: 'completed',
      outcome: 'Corrected: displayName, email, phone.',
      handledBy: owner.userId,
    });
    const [entry] = (await auditEntries(server, owner.tenantId, 'privacy.rectified')).filter(
      (candidate) => candidate.target_id === bob.userId,
    );
    expect(JSON.parse(entry?.details ?? '{}')).toEqual({
      fields: ['displayName', 'email', 'phone'],
      requestId,
    });
    const everything = (await auditEntries(server, owner.tenantId, '')).map((row) => row.details).join('\n');
    for (const value of ['Robert Tables', newEmail, '7946']) expect(everything).not.toContain(value);
  });

  it('every personal field of the profile is correctable by the user and by an administrator, audited by field names only', async () => {
    const hana = await newMember(server, owner, address('hana'), 'profile');
    // The user: display name, phone, avatar and custom data through PATCH /v1/me.
    const own = {
      displayName: 'Hana Correct',
      phone: '+49 30 1234567',
      avatarUrl: 'https://cdn.rectify.example/hana-own.png',
      customData: { department: 'Radiology-own' },
    };
    const patched = await server.request('/v1/me', json(own, hana.token, 'PATCH'));
    expect(patched.status, patched.text).toBe(200);
    expect(await profileOf(hana.token)).toMatchObject(own);
    // An administrator: the same fields, and the address.
    const byAdmin = {
      displayName: 'Hana Corrected',
      email: address('hana-admin'),
      phone: '+49 30 7654321',
      avatarUrl: 'https://cdn.rectify.example/hana-admin.png',
      customData: { department: 'Radiology-admin' },
    };
    const corrected = await rectify(hana.userId, { changes: byAdmin });
    expect(corrected.status, corrected.text).toBe(200);
    expect(corrected.json<{ fields: string[] }>().fields).toEqual([
      'avatarUrl',
      'customData',
      'displayName',
      'email',
      'phone',
    ]);
    expect(await profileOf(hana.token)).toMatchObject({ ...byAdmin, emailVerified: false });
    // Both cleared again where the field may be empty.
    const cleared = await server.request(
      '/v1/me',
      json({ phone: null, avatarUrl: null, customData: null }, hana.token, 'PATCH'),
    );
    expect(cleared.status, cleared.text).toBe(200);
    expect(await profileOf(hana.token)).toMatchObject({ phone: null, avatarUrl: null, customData: null });

    const entries = (await auditEntries(server, owner.tenantId, '')).filter(
      (entry) => entry.target_id === hana.userId,
    );
    const byAction = (action: string) =>
      entries.filter((entry) => entry.action === action).map((entry) => JSON.parse(entry.details) as unknown);
    expect(byAction('user.profile_updated')).toEqual([
      { fields: ['avatarUrl', 'customData', 'displayName', 'phone'] },
      { fields: ['avatarUrl', 'customData', 'phone'] },
    ]);
    expect(byAction('privacy.rectified')).toMatchObject([
      { fields: ['avatarUrl', 'customData', 'displayName', 'email', 'phone'] },
    ]);
    // Values never reach the audit log, whose details are stored in the clear.
    const details = entries.map((entry) => entry.details).join('\n');
    for (const value of ['Hana Correct', '1234567', 'hana-own', 'Radiology', 'hana-admin', '7654321'])
      expect(details).not.toContain(value);
  });

  it('answers the rectification request the user filed, and no other', async () => {
    const carol = await newMember(server, owner, address('carol'));
    const file = async (kind: string) =>
      (
        await server.request(
          '/v1/me/privacy-requests',
          json({ kind, note: 'My name is misspelt.' }, carol.token),
        )
      ).json<OwnDataSubjectRequestBody>();
    const objection = await file('objection');
    const rectification = await file('rectification');

    const wrongKind = await rectify(carol.userId, {
      changes: { displayName: 'Carol' },
      requestId: objection.id,
    });
    expect(wrongKind.status).toBe(409);
    const answered = await rectify(carol.userId, {
      changes: { displayName: 'Carole' },
      requestId: rectification.id,
    });
    expect(answered.status, answered.text).toBe(200);
    expect(answered.json<{ requestId: string }>().requestId).toBe(rectification.id);
    const mine = await server.request('/v1/me/privacy-requests', bearer(carol.token));
    expect(
      mine
        .json<{ requests: OwnDataSubjectRequestBody[] }>()
        .requests.find((request) => request.id === rectification.id),
    ).toMatchObject({ status: 'completed', outcome: 'Corrected: displayName.' });
    const again = await rectify(carol.userId, {
      changes: { displayName: 'Caroline' },
      requestId: rectification.id,
    });
    expect(again.status).toBe(409);
    expect(again.json<{ error: { code: string } }>().error.code).toBe('request_closed');
  });

  it('refuses an address another user holds and changes nothing', async () => {
    const dave = await newMember(server, owner, address('dave'));
    const taken = await rectify(dave.userId, { changes: { displayName: 'David', email: owner.email } });
    expect(taken.status).toBe(409);
    expect((await profileOf(dave.token)).displayName).not.toBe('David');
    expect(await storedRequestsOf(server, owner.tenantId, dave.userId)).toEqual([]);
    const empty = await rectify(dave.userId, { changes: {} });
    expect(empty.status).toBe(400);
  });

  it("another tenant's user, and another user's request, cannot be used", async () => {
    const ivanEmail = address('ivan');
    const ivan = await newMember(server, owner, ivanEmail, 'profile');
    const judy = await newMember(server, owner, address('judy'), 'profile');
    const stranger = await newTenantOwner(server, 'Other Rectifiers');
    const foreign = await rectify(
      ivan.userId,
      { changes: { displayName: 'Hijacked' } },
      stranger.accessToken,
    );
    expect(foreign.status, foreign.text).toBe(404);
    // Judy's own rectification request cannot serve to change Ivan.
    const filed = await server.request(
      '/v1/me/privacy-requests',
      json({ kind: 'rectification', note: 'Fix my name.' }, judy.token),
    );
    const judysRequest = filed.json<OwnDataSubjectRequestBody>().id;
    const borrowed = await rectify(ivan.userId, {
      changes: { displayName: 'Ivan via Judy' },
      requestId: judysRequest,
    });
    expect(borrowed.status).toBe(409);
    // Another tenant's administrator cannot name it either.
    const strangerRequest = await rectify(
      ivan.userId,
      { changes: { displayName: 'Ivan' }, requestId: judysRequest },
      stranger.accessToken,
    );
    expect(strangerRequest.status).toBe(404);
    expect((await profileOf(ivan.token)).displayName).toBe(ivanEmail.split('@')[0]);
    const judys = await server.request('/v1/me/privacy-requests', bearer(judy.token));
    expect(judys.json<{ requests: OwnDataSubjectRequestBody[] }>().requests).toMatchObject([
      { id: judysRequest, status: 'received' },
    ]);
  });

  it("only owners correct an owner's data", async () => {
    const adminEmail = address('admin');
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Ada', email: adminEmail, password: memberPassword, roles: ['admin'] },
        owner.accessToken,
      ),
    );
    const adminId = created.json<{ userId: string }>().userId;
    const admin = await signIn(server, owner.tenantId, adminEmail, memberPassword, 'profile admin');
    const takeover = await rectify(
      owner.userId,
      { changes: { email: address('attacker') } },
      admin.accessToken,
    );
    expect(takeover.status).toBe(403);
    expect((await profileOf(owner.accessToken)).email).toBe(owner.email);
    expect((await rectify(adminId, { changes: { displayName: 'Ada L.' } })).status).toBe(200);
  });

  it('a user changes their address: password asked, confirmed from the new address, the old one told', async () => {
    const oldEmail = address('erin');
    const erin = await newMember(server, owner, oldEmail, 'profile');
    const newEmail = address('erin-new');
    const change = (body: unknown) => server.request('/v1/me/email', json(body, erin.token));

    const wrongPassword = await change({ email: newEmail, password: 'certainly not the password' });
    expect(wrongPassword.status).toBe(401);
    const taken = await change({ email: owner.email, password: memberPassword });
    expect(taken.status).toBe(409);
    const requested = await change({ email: newEmail, password: memberPassword });
    expect(requested.status, requested.text).toBe(202);
    await server.app.services.emailFlows.drain();
    // Nothing changes until the link is opened.
    expect((await profileOf(erin.token)).email).toBe(oldEmail);
    const token = changeToken(smtp, newEmail);

    const confirmed = await server.request('/v1/email/change/confirm', json({ token }));
    expect(confirmed.status, confirmed.text).toBe(204);
    expect(await profileOf(erin.token)).toMatchObject({ email: newEmail, emailVerified: true });
    expect((await passwordGrant(newEmail)).status).toBe(200);
    await server.app.services.emailFlows.drain();
    expect(smtp.to(oldEmail, /address of your Parley account was changed/)).toHaveLength(1);
    const reused = await server.request('/v1/email/change/confirm', json({ token }));
    expect(reused.status).toBe(410);

    const actions = (await auditEntries(server, owner.tenantId, 'user.email_change'))
      .filter((entry) => entry.target_id === erin.userId)
      .map((entry) => entry.action);
    expect(actions).toEqual(['user.email_change_requested', 'user.email_changed']);
    // The pending address is sealed in the token row, never stored in the clear.
    const tokens = await server.app.storage.withTenant(owner.tenantId, (tx) =>
      tx.selectFrom('user_tokens').select('payload').where('purpose', '=', 'email_change').execute(),
    );
    expect(JSON.stringify(tokens)).not.toContain(newEmail);
  });

  it('a newer change request retires the older link', async () => {
    const frank = await newMember(server, owner, address('frank'), 'profile');
    const first = address('frank-a');
    const second = address('frank-b');
    for (const email of [first, second])
      expect(
        (await server.request('/v1/me/email', json({ email, password: memberPassword }, frank.token))).status,
      ).toBe(202);
    await server.app.services.emailFlows.drain();
    const stale = await server.request('/v1/email/change/confirm', json({ token: changeToken(smtp, first) }));
    expect(stale.status).toBe(410);
    const fresh = await server.request(
      '/v1/email/change/confirm',
      json({ token: changeToken(smtp, second) }),
    );
    expect(fresh.status).toBe(204);
    expect((await profileOf(frank.token)).email).toBe(second);
  });

  it('the SDK files and lists privacy requests and changes the address', async () => {
    const gina = address('gina');
    await newMember(server, owner, gina, 'profile');
    const http = trustingFetch(server.ca);
    const client = new ParleyClient({
      baseUrl: server.url,
      fetch: http.fetch,
      tokenStore: new MemoryTokenStore(),
    });
    await client.auth.signIn({
      tenantId: owner.tenantId,
      username: gina,
      password: memberPassword,
      scope: 'profile',
    });

    const filed = await client.account.privacyRequests.file({
      kind: 'access',
      note: 'What do you hold on me?',
    });
    expect(filed).toMatchObject({ kind: 'access', status: 'received', note: 'What do you hold on me?' });
    expect((await client.account.privacyRequests.list()).map((request) => request.id)).toEqual([filed.id]);

    const next = address('gina-new');
    await expect(client.account.requestEmailChange(next, 'wrong password entirely')).rejects.toBeInstanceOf(
      ParleyApiError,
    );
    await client.account.requestEmailChange(next, memberPassword);
    await server.app.services.emailFlows.drain();
    await client.account.confirmEmailChange(changeToken(smtp, next));
    expect((await client.account.me()).email).toBe(next);
    await http.close();
  });
});
