import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { closeCodes } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SERVICE_PURPOSE } from '../../../src/compliance/gdpr/consent-defaults.ts';
import { describeEachDialect } from '../../support/dialects.ts';
import {
  bearer,
  json,
  newTenantOwner,
  type SignedIn,
  signIn,
  tokenRequest,
} from '../../support/identity-fixtures.ts';
import { openSocket, Socket } from '../../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../../support/start-server.ts';

/**
 * Consent before processing (GDPR Art. 7): nobody gets an account without accepting the current required
 * purposes; a user who owes acceptance (made by an admin, a new version, a withdrawal) holds a token that
 * reaches only `profile` routes until they accept; every grant and withdrawal is a ledger row and an audit entry.
 */
const password = 'plum tree under the winter moon';
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const service = (version = 1) => [{ key: 'service', version }];

describeEachDialect('consent before processing', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let counter = 0;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Consent Care');
  });

  afterAll(async () => {
    await server.close();
  });

  const ledger = (tenantId: string, userId: string) =>
    server.app.storage.withTenant(tenantId, (tx) =>
      tx
        .selectFrom('consent_ledger')
        .select(['purpose_key', 'version', 'text_hash', 'action', 'source'])
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .orderBy('at')
        .orderBy('id')
        .execute(),
    );
  /** The tenant's audit entries whose action starts with `prefix`, oldest first. */
  const auditEntries = (target: TestServer, tenantId: string, prefix: string) =>
    target.app.storage.withTenant(tenantId, (tx) =>
      tx
        .selectFrom('audit_log')
        .select(['action', 'actor_id', 'target_type', 'target_id', 'outcome', 'details'])
        .where('tenant_id', '=', tenantId)
        .where('action', 'like', `${prefix}%`)
        .orderBy('seq')
        .execute(),
    );
  const usersNamed = (tenantId: string) =>
    server.app.storage.withTenant(tenantId, (tx) =>
      tx.selectFrom('users').select('id').where('tenant_id', '=', tenantId).execute(),
    );
  const setMode = (tenant: SignedIn, signupMode: string) =>
    server.request('/v1/tenant/settings', json({ signupMode }, tenant.accessToken, 'PATCH'));
  const signup = (tenantId: string, body: Record<string, unknown>) =>
    server.request(`/v1/tenants/${tenantId}/signup`, json({ displayName: 'Nia New', password, ...body }));
  /** A member made by the owner, signed in with the raw grant (the fixture's signIn would accept for them). */
  const newMemberRaw = async (tenant: SignedIn) => {
    counter += 1;
    const email = `member${counter}@consent.example`;
    const created = await server.request(
      '/v1/users',
      json({ displayName: `Member ${counter}`, email, password, roles: ['member'] }, tenant.accessToken),
    );
    expect(created.status, created.text).toBe(201);
    const grant = await tokenRequest(server, {
      grant_type: 'password',
      tenant_id: tenant.tenantId,
      username: email,
      password,
      scope: 'profile chat',
    });
    expect(grant.status, grant.text).toBe(200);
    const body = grant.json<{
      access_token: string;
      refresh_token: string;
      scope: string;
      parley_notice?: string;
    }>();
    return { userId: created.json<{ userId: string }>().userId, email, body, token: body.access_token };
  };
  /** The close code a socket signing in with `token` gets (it must not reach `ready`). */
  const socketRefusal = async (token: string) => {
    const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
    await once(ws, 'open');
    const socket = new Socket(ws);
    socket.send({ type: 'auth', token });
    const [code] = await socket.closed;
    expect(socket.frames.some((frame) => frame.type === 'ready')).toBe(false);
    return code;
  };
  const grantService = (token: string, version = 1) =>
    server.request('/v1/me/consents/service', json({ version }, token, 'PUT'));
  const dialogsOf = (token: string) => server.request('/v1/dialogs', bearer(token));

  describe('sign-up, invitation claim and owner setup', () => {
    it('publishes the `service` purpose of a new tenant: required, contract, version 1, its text hashed', async () => {
      const response = await server.request(`/v1/tenants/${owner.tenantId}/consent-purposes`);
      expect(response.status).toBe(200);
      expect(response.json()).toEqual({
        purposes: [
          {
            key: 'service',
            version: 1,
            title: SERVICE_PURPOSE.title,
            text: SERVICE_PURPOSE.text,
            textHash: sha256(SERVICE_PURPOSE.text),
            lawfulBasis: 'contract',
            required: true,
            active: true,
            publishedAt: expect.any(String),
          },
        ],
      });
    });

    it('refuses sign-up without the required purposes (naming them) or with a stale version, and creates no one', async () => {
      const tenant = await newTenantOwner(server, 'Open Door');
      expect((await setMode(tenant, 'open')).status).toBe(200);
      const before = (await usersNamed(tenant.tenantId)).length;
      const missing = await signup(tenant.tenantId, { email: 'nia@open.example' });
      expect(missing.status).toBe(403);
      expect(missing.json()).toMatchObject({
        error: { code: 'consent_required', message: expect.stringContaining('service (version 1)') },
      });
      const stale = await signup(tenant.tenantId, {
        email: 'nia@open.example',
        acceptedPurposes: service(7),
      });
      expect(stale.status).toBe(409);
      expect(stale.json()).toMatchObject({ error: { code: 'consent_version_stale' } });
      const unknown = await signup(tenant.tenantId, {
        email: 'nia@open.example',
        acceptedPurposes: [...service(), { key: 'no_such_purpose', version: 1 }],
      });
      expect(unknown.status).toBe(409);
      expect((await usersNamed(tenant.tenantId)).length).toBe(before);
    });

    it('records the acceptance of a sign-up as a ledger row and an audit entry, with the text hash', async () => {
      const tenant = await newTenantOwner(server, 'Open Again');
      await setMode(tenant, 'open');
      const created = await signup(tenant.tenantId, {
        email: 'nia@again.example',
        acceptedPurposes: service(),
      });
      expect(created.status, created.text).toBe(201);
      const userId = created.json<{ userId: string }>().userId;
      expect(await ledger(tenant.tenantId, userId)).toEqual([
        {
          purpose_key: 'service',
          version: 1,
          text_hash: sha256(SERVICE_PURPOSE.text),
          action: 'grant',
          source: 'signup',
        },
      ]);
      const entries = await auditEntries(server, tenant.tenantId, 'consent.granted');
      const entry = entries.find((row) => row.target_id === userId);
      expect(entry).toMatchObject({ actor_id: userId, target_type: 'user', outcome: 'success' });
      expect(JSON.parse(entry?.details ?? '{}')).toEqual({
        key: 'service',
        version: 1,
        textHash: sha256(SERVICE_PURPOSE.text),
        source: 'signup',
      });
      // A user who accepted at sign-up owes nothing: the sign-in gives the full token.
      const grant = await tokenRequest(server, {
        grant_type: 'password',
        tenant_id: tenant.tenantId,
        username: 'nia@again.example',
        password,
        scope: 'profile chat',
      });
      expect(grant.json()).toMatchObject({ scope: 'profile chat' });
      expect(grant.json()).not.toHaveProperty('parley_notice');
    });

    it('refuses an invitation claim without acceptance and leaves the invitation usable; with it, source `claim`', async () => {
      const tenant = await newTenantOwner(server, 'Invite Only');
      await setMode(tenant, 'invite_only');
      const invite = await server.request(
        '/v1/invites',
        json({ email: 'ivy@invite.example' }, tenant.accessToken),
      );
      const { inviteToken } = invite.json<{ inviteToken: string }>();
      const refused = await signup(tenant.tenantId, { email: 'ivy@invite.example', inviteToken });
      expect(refused.status).toBe(403);
      expect(refused.json()).toMatchObject({ error: { code: 'consent_required' } });
      const claimed = await signup(tenant.tenantId, {
        email: 'ivy@invite.example',
        inviteToken,
        acceptedPurposes: service(),
      });
      expect(claimed.status, claimed.text).toBe(201);
      const userId = claimed.json<{ userId: string }>().userId;
      expect((await ledger(tenant.tenantId, userId)).map((row) => row.source)).toEqual(['claim']);
    });

    it('refuses owner setup without acceptance and keeps the setup token; with it, source `setup`', async () => {
      const tenant = await server.app.tenants.createTenant('Fresh Start');
      const setup = (acceptedPurposes?: unknown) =>
        server.request(
          `/v1/tenants/${tenant.tenantId}/setup`,
          json({
            setupToken: tenant.ownerSetupToken,
            displayName: 'Olivia Owner',
            email: 'olivia@fresh.example',
            password: 'correct horse battery staple 2024',
            ...(acceptedPurposes === undefined ? {} : { acceptedPurposes }),
          }),
        );
      const refused = await setup();
      expect(refused.status).toBe(403);
      expect(refused.json()).toMatchObject({ error: { code: 'consent_required' } });
      const done = await setup(service());
      expect(done.status, done.text).toBe(201);
      const userId = done.json<{ userId: string }>().userId;
      expect((await ledger(tenant.tenantId, userId)).map((row) => row.source)).toEqual(['setup']);
    });
  });

  describe('a user who owes consent', () => {
    it('made by an admin: the first sign-in is limited to profile until they accept, then the same token works', async () => {
      const member = await newMemberRaw(owner);
      expect(member.body).toMatchObject({ scope: 'profile', parley_notice: 'consent_required' });
      const refused = await dialogsOf(member.token);
      expect(refused.status).toBe(403);
      expect(refused.json()).toMatchObject({ error: { code: 'consent_required' } });
      // A socket is refused too: the token cannot read dialogs.
      expect(await socketRefusal(member.token)).toBe(closeCodes.forbidden);
      const mine = await server.request('/v1/me/consents', bearer(member.token));
      expect(mine.status).toBe(200);
      expect(mine.json()).toMatchObject({
        consents: [{ purpose: { key: 'service', version: 1, required: true }, state: 'none', version: null }],
      });
      const granted = await grantService(member.token);
      expect(granted.status, granted.text).toBe(200);
      expect(granted.json()).toMatchObject({ state: 'granted', version: 1 });
      expect((await dialogsOf(member.token)).status).toBe(200);
      // The session kept its scopes: a refresh reports them in full again, without a notice.
      const refreshed = await tokenRequest(server, {
        grant_type: 'refresh_token',
        refresh_token: member.body.refresh_token,
      });
      expect(refreshed.json()).toMatchObject({ scope: 'profile chat' });
      expect(refreshed.json()).not.toHaveProperty('parley_notice');
      expect((await ledger(owner.tenantId, member.userId)).map((row) => [row.action, row.source])).toEqual([
        ['grant', 'self'],
      ]);
    });

    it('after a new version of a required purpose: open sessions and new sign-ins are limited until it is accepted', async () => {
      const tenant = await newTenantOwner(server, 'Versioned');
      const member = await newMemberRaw(tenant);
      expect((await grantService(member.token)).status).toBe(200);
      expect((await dialogsOf(member.token)).status).toBe(200);
      const newText = `${SERVICE_PURPOSE.text} We now also keep call records for twelve months.`;
      const changed = await server.request(
        '/v1/consent-purposes/service',
        json({ text: newText }, tenant.accessToken, 'PATCH'),
      );
      expect(changed.status, changed.text).toBe(200);
      expect(changed.json()).toMatchObject({ key: 'service', version: 2, textHash: sha256(newText) });
      // The member's open (cached) session is limited from the next request on.
      const refused = await dialogsOf(member.token);
      expect(refused.status).toBe(403);
      expect(refused.json()).toMatchObject({ error: { code: 'consent_required' } });
      // A new sign-in gets the limited token and the notice, as with an expired password.
      const signedIn = await tokenRequest(server, {
        grant_type: 'password',
        tenant_id: tenant.tenantId,
        username: member.email,
        password,
        scope: 'profile chat',
      });
      expect(signedIn.json()).toMatchObject({ scope: 'profile', parley_notice: 'consent_required' });
      const mine = await server.request('/v1/me/consents', bearer(member.token));
      expect(mine.json()).toMatchObject({
        consents: [{ purpose: { key: 'service', version: 2, text: newText }, state: 'outdated', version: 1 }],
      });
      // Accepting what one read before the change is not accepting the change.
      const stale = await grantService(member.token, 1);
      expect(stale.status).toBe(409);
      expect(stale.json()).toMatchObject({ error: { code: 'consent_version_stale' } });
      expect((await grantService(member.token, 2)).status).toBe(200);
      expect((await dialogsOf(member.token)).status).toBe(200);
      expect(await ledger(tenant.tenantId, member.userId)).toEqual([
        expect.objectContaining({ version: 1, text_hash: sha256(SERVICE_PURPOSE.text), action: 'grant' }),
        expect.objectContaining({ version: 2, text_hash: sha256(newText), action: 'grant' }),
      ]);
      // The admin who published it owes it as well before administering anything further.
      expect((await grantService(tenant.accessToken, 2)).status).toBe(200);
      // The old words stay readable: every ledger row names a version that still exists.
      const versions = await server.request(
        '/v1/consent-purposes/service/versions',
        bearer(tenant.accessToken),
      );
      expect(versions.json<{ purposes: { version: number; text: string }[] }>().purposes).toEqual([
        expect.objectContaining({ version: 1, text: SERVICE_PURPOSE.text }),
        expect.objectContaining({ version: 2, text: newText }),
      ]);
      // The change is audited by ids, version and hash; the text itself is not copied into the log.
      const [updated] = await auditEntries(server, tenant.tenantId, 'consent.purpose_updated');
      expect(JSON.parse(updated?.details ?? '{}')).toMatchObject({
        key: 'service',
        version: 2,
        previousVersion: 1,
        newVersion: true,
        textHash: sha256(newText),
      });
      expect(updated?.details).not.toContain('twelve months');
    });
  });

  describe('granting and withdrawing', () => {
    it('withdrawal of an optional purpose shows at once, leaves the service usable, and is a ledger row and audit entry', async () => {
      const tenant = await newTenantOwner(server, 'Newsletters');
      const created = await server.request(
        '/v1/consent-purposes',
        json(
          {
            key: 'newsletter',
            title: 'Monthly newsletter',
            text: 'We send you our newsletter by e-mail once a month.',
            lawfulBasis: 'consent',
          },
          tenant.accessToken,
        ),
      );
      expect(created.status, created.text).toBe(201);
      expect(created.json()).toMatchObject({ key: 'newsletter', version: 1, required: false, active: true });
      const member = await newMemberRaw(tenant);
      expect((await grantService(member.token)).status).toBe(200);
      const before = await server.request('/v1/me/consents', bearer(member.token));
      expect(
        before
          .json<{ consents: { purpose: { key: string }; state: string }[] }>()
          .consents.map((entry) => [entry.purpose.key, entry.state]),
      ).toEqual([
        ['newsletter', 'none'],
        ['service', 'granted'],
      ]);
      const granted = await server.request(
        '/v1/me/consents/newsletter',
        json({ version: 1 }, member.token, 'PUT'),
      );
      expect(granted.json()).toMatchObject({ state: 'granted' });
      const withdrawn = await server.request('/v1/me/consents/newsletter', bearer(member.token, 'DELETE'));
      expect(withdrawn.status).toBe(200);
      expect(withdrawn.json()).toMatchObject({ state: 'withdrawn', version: 1 });
      const after = await server.request('/v1/me/consents', bearer(member.token));
      expect(after.json()).toMatchObject({
        consents: [{ purpose: { key: 'newsletter' }, state: 'withdrawn' }, {}],
      });
      expect((await dialogsOf(member.token)).status).toBe(200);
      expect(
        (await ledger(tenant.tenantId, member.userId)).map((row) => [
          row.purpose_key,
          row.action,
          row.source,
        ]),
      ).toEqual([
        ['service', 'grant', 'self'],
        ['newsletter', 'grant', 'self'],
        ['newsletter', 'withdraw', 'self'],
      ]);
      const withdrawals = await auditEntries(server, tenant.tenantId, 'consent.withdrawn');
      expect(withdrawals.map((row) => [row.actor_id, JSON.parse(row.details) as unknown])).toEqual([
        [
          member.userId,
          {
            key: 'newsletter',
            version: 1,
            textHash: sha256('We send you our newsletter by e-mail once a month.'),
            source: 'self',
          },
        ],
      ]);
      // Withdrawing again changes nothing and records nothing.
      await server.request('/v1/me/consents/newsletter', bearer(member.token, 'DELETE'));
      expect(await ledger(tenant.tenantId, member.userId)).toHaveLength(3);
      // The proof an administrator can show: the user's ledger, with the hash of each text.
      const proof = await server.request(
        `/v1/users/${member.userId}/consent-ledger`,
        bearer(tenant.accessToken),
      );
      expect(proof.status).toBe(200);
      expect(proof.json()).toEqual({
        entries: [
          expect.objectContaining({
            purposeKey: 'service',
            action: 'grant',
            textHash: sha256(SERVICE_PURPOSE.text),
          }),
          expect.objectContaining({ purposeKey: 'newsletter', version: 1, action: 'grant', source: 'self' }),
          expect.objectContaining({ purposeKey: 'newsletter', action: 'withdraw', at: expect.any(String) }),
        ],
      });
      // Members hold no consent.manage: they cannot read anyone's ledger, not even their own this way.
      const refused = await server.request(`/v1/users/${member.userId}/consent-ledger`, bearer(member.token));
      expect(refused.status).toBe(403);
    });

    it('withdrawal of a required purpose limits the very next request and closes the open socket', async () => {
      const tenant = await newTenantOwner(server, 'Withdrawn');
      const member = await newMemberRaw(tenant);
      expect((await grantService(member.token)).status).toBe(200);
      const socket = await openSocket(server, member.token);
      const withdrawn = await server.request('/v1/me/consents/service', bearer(member.token, 'DELETE'));
      expect(withdrawn.json()).toMatchObject({ state: 'withdrawn' });
      const refused = await dialogsOf(member.token);
      expect(refused.status).toBe(403);
      expect(refused.json()).toMatchObject({ error: { code: 'consent_required' } });
      // The socket handles nothing more: its next frame closes it as unable to read.
      socket.send({ type: 'ping' });
      const [code] = await socket.closed;
      expect(code).toBe(closeCodes.forbidden);
      expect(socket.frames.some((frame) => frame.type === 'pong')).toBe(false);
      // Granting again restores the same token.
      expect((await grantService(member.token)).status).toBe(200);
      expect((await dialogsOf(member.token)).status).toBe(200);
    });

    it('answers 404 for a purpose that only another tenant has', async () => {
      const other = await newTenantOwner(server, 'Elsewhere');
      const created = await server.request(
        '/v1/consent-purposes',
        json({ key: 'elsewhere_only', title: 'T', text: 'Text.', lawfulBasis: 'consent' }, other.accessToken),
      );
      expect(created.status).toBe(201);
      const put = await server.request(
        '/v1/me/consents/elsewhere_only',
        json({ version: 1 }, owner.accessToken, 'PUT'),
      );
      expect(put.status).toBe(404);
      expect(
        (await server.request('/v1/me/consents/elsewhere_only', bearer(owner.accessToken, 'DELETE'))).status,
      ).toBe(404);
      const patch = await server.request(
        '/v1/consent-purposes/elsewhere_only',
        json({ required: true }, owner.accessToken, 'PATCH'),
      );
      expect(patch.status).toBe(404);
      expect(
        (await server.request('/v1/consent-purposes/elsewhere_only/versions', bearer(owner.accessToken)))
          .status,
      ).toBe(404);
      // And the other tenant's purpose is untouched.
      const listed = await server.request('/v1/consent-purposes', bearer(other.accessToken));
      expect(listed.json()).toMatchObject({
        purposes: [{ key: 'elsewhere_only', required: false }, { key: 'service' }],
      });
    });
  });

  describe('purposes as admins manage them', () => {
    it('validates the lawful basis and refuses a key twice', async () => {
      const tenant = await newTenantOwner(server, 'Validating');
      const body = {
        key: 'analytics',
        title: 'Analytics',
        text: 'We count page views.',
        lawfulBasis: 'because',
      };
      const invalid = await server.request('/v1/consent-purposes', json(body, tenant.accessToken));
      expect(invalid.status).toBe(400);
      expect(invalid.json()).toMatchObject({ error: { code: 'validation_failed' } });
      const ok = await server.request(
        '/v1/consent-purposes',
        json({ ...body, lawfulBasis: 'legitimate_interests' }, tenant.accessToken),
      );
      expect(ok.status).toBe(201);
      const twice = await server.request(
        '/v1/consent-purposes',
        json({ ...body, lawfulBasis: 'consent' }, tenant.accessToken),
      );
      expect(twice.status).toBe(409);
    });

    it('changing only `required` or `active` keeps the version; the audit says so', async () => {
      const tenant = await newTenantOwner(server, 'In Place');
      await server.request(
        '/v1/consent-purposes',
        json(
          { key: 'surveys', title: 'Surveys', text: 'We may ask you.', lawfulBasis: 'consent' },
          tenant.accessToken,
        ),
      );
      const retired = await server.request(
        '/v1/consent-purposes/surveys',
        json({ active: false }, tenant.accessToken, 'PATCH'),
      );
      expect(retired.json()).toMatchObject({ version: 1, active: false });
      // Retired purposes are no longer published for sign-up.
      const published = await server.request(`/v1/tenants/${tenant.tenantId}/consent-purposes`);
      expect(published.json<{ purposes: { key: string }[] }>().purposes.map((row) => row.key)).toEqual([
        'service',
      ]);
      const [entry] = await auditEntries(server, tenant.tenantId, 'consent.purpose_updated');
      expect(JSON.parse(entry?.details ?? '{}')).toMatchObject({
        version: 1,
        newVersion: false,
        active: false,
      });
    });

    it('making an optional purpose required limits everyone who has not granted it', async () => {
      const tenant = await newTenantOwner(server, 'Now Required');
      await server.request(
        '/v1/consent-purposes',
        json(
          { key: 'terms', title: 'Terms', text: 'House rules.', lawfulBasis: 'contract' },
          tenant.accessToken,
        ),
      );
      const member = await newMemberRaw(tenant);
      expect((await grantService(member.token)).status).toBe(200);
      expect((await dialogsOf(member.token)).status).toBe(200);
      await server.request(
        '/v1/consent-purposes/terms',
        json({ required: true }, tenant.accessToken, 'PATCH'),
      );
      expect((await dialogsOf(member.token)).status).toBe(403);
      // The owner owes it too; sign-up now needs both.
      expect((await dialogsOf(tenant.accessToken)).status).toBe(403);
      await setModeFor(tenant);
      const refused = await signup(tenant.tenantId, {
        email: 'late@terms.example',
        acceptedPurposes: service(),
      });
      expect(refused.json()).toMatchObject({
        error: { code: 'consent_required', message: expect.stringContaining('terms (version 1)') },
      });
    });

    it('counts coverage per purpose over active users: granted, outdated, withdrawn, none', async () => {
      const tenant = await newTenantOwner(server, 'Coverage');
      const first = await newMemberRaw(tenant);
      const second = await newMemberRaw(tenant);
      const third = await newMemberRaw(tenant);
      await newMemberRaw(tenant); // never answers
      expect((await grantService(first.token)).status).toBe(200);
      expect((await grantService(second.token)).status).toBe(200);
      expect((await grantService(third.token)).status).toBe(200);
      await server.request('/v1/me/consents/service', bearer(third.token, 'DELETE'));
      await server.request(
        '/v1/consent-purposes/service',
        json({ title: 'Providing the service (2027)' }, tenant.accessToken, 'PATCH'),
      );
      expect((await grantService(second.token, 2)).status).toBe(200);
      expect((await grantService(tenant.accessToken, 2)).status).toBe(200);
      const coverage = await server.request('/v1/consent-coverage', bearer(tenant.accessToken));
      expect(coverage.status).toBe(200);
      // Active users: the owner and the second member (version 2), the first (version 1 only), the third
      // (withdrawn) and the fourth (never answered).
      expect(coverage.json()).toEqual({
        purposes: [
          {
            key: 'service',
            version: 2,
            required: true,
            active: true,
            activeUsers: 5,
            granted: 2,
            outdated: 1,
            withdrawn: 1,
            none: 1,
          },
        ],
      });
    });
  });

  // Helpers that need the describe's server.
  async function setModeFor(tenant: SignedIn) {
    // The owner owes the new required purpose: accept it (as signIn would), then open sign-up.
    await signIn(server, tenant.tenantId, tenant.email, 'correct horse battery staple 2024');
    expect((await setMode(tenant, 'open')).status).toBe(200);
  }
});
