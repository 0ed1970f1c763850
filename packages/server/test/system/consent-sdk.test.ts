import { MemoryTokenStore, ParleyApiError, ParleyClient } from '@parley/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { json, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { trustingFetch, trustingWebSocket } from '../support/sdk-clients.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * The SDK's consent calls against the real server: a sign-up form reads the purposes and signs up with what the
 * person accepted; a user who owes consent sees the notice, is refused with `consent_required` elsewhere, and
 * grants; withdrawal shows at once.
 */
const password = 'plum tree under the winter moon';

describeEachDialect('consent through the client SDK', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'SDK Consent');
    const opened = await server.request(
      '/v1/tenant/settings',
      json({ signupMode: 'open' }, owner.accessToken, 'PATCH'),
    );
    expect(opened.status).toBe(200);
    const newsletter = await server.request(
      '/v1/consent-purposes',
      json(
        { key: 'newsletter', title: 'Newsletter', text: 'A monthly e-mail.', lawfulBasis: 'consent' },
        owner.accessToken,
      ),
    );
    expect(newsletter.status).toBe(201);
  });

  afterAll(async () => {
    for (const close of closers) await close();
    await server.close();
  });

  const newClient = () => {
    const http = trustingFetch(server.ca);
    closers.push(() => http.close());
    return new ParleyClient({
      baseUrl: server.url,
      fetch: http.fetch,
      tokenStore: new MemoryTokenStore(),
      realtime: { WebSocket: trustingWebSocket(server.ca) },
    });
  };

  it('signs up with the purposes the form showed; without the required one the server refuses', async () => {
    const client = newClient();
    const purposes = await client.consents.published(owner.tenantId);
    expect(purposes.map((purpose) => [purpose.key, purpose.required])).toEqual([
      ['newsletter', false],
      ['service', true],
    ]);
    const request = {
      tenantId: owner.tenantId,
      displayName: 'Sam Signup',
      email: 'sam@sdk.example',
      password,
    };
    const refused = await client.consents
      .signUp({ ...request, acceptedPurposes: [] })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ParleyApiError);
    expect(refused).toMatchObject({ status: 403, code: 'consent_required' });
    const accepted = purposes
      .filter((purpose) => purpose.required)
      .map(({ key, version }) => ({ key, version }));
    const { userId } = await client.consents.signUp({ ...request, acceptedPurposes: accepted });
    expect(userId).toMatch(/^[0-9a-f-]{36}$/);
    const signedIn = await client.auth.signIn({
      tenantId: owner.tenantId,
      username: 'sam@sdk.example',
      password,
      scope: 'profile chat',
    });
    expect(signedIn).toMatchObject({ mfaRequired: false, tokens: { scope: 'profile chat' } });
    expect(signedIn).not.toHaveProperty('notice');
    const mine = await client.consents.list();
    expect(mine.map((consent) => [consent.purpose.key, consent.state])).toEqual([
      ['newsletter', 'none'],
      ['service', 'granted'],
    ]);
  });

  it('a user made by an admin is told at sign-in, refused elsewhere, and works in full once they grant', async () => {
    const created = await server.request(
      '/v1/users',
      json(
        { displayName: 'Ada Admin-made', email: 'ada@sdk.example', password, roles: ['member'] },
        owner.accessToken,
      ),
    );
    expect(created.status).toBe(201);
    const client = newClient();
    const signedIn = await client.auth.signIn({
      tenantId: owner.tenantId,
      username: 'ada@sdk.example',
      password,
      scope: 'profile chat',
    });
    expect(signedIn).toMatchObject({ notice: 'consent_required', tokens: { scope: 'profile' } });
    const refused = await client.dialogs.list().catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 403, code: 'consent_required' });
    const service = (await client.consents.list()).find((consent) => consent.purpose.key === 'service');
    expect(service).toMatchObject({ state: 'none', purpose: { required: true, lawfulBasis: 'contract' } });
    await client.consents.grant('service', service?.purpose.version ?? 0);
    expect((await client.dialogs.list()).dialogs).toEqual([]);
    // Optional purposes: granted and withdrawn at once; a stale version is refused.
    const stale = await client.consents.grant('newsletter', 9).catch((error: unknown) => error);
    expect(stale).toMatchObject({ status: 409, code: 'consent_version_stale' });
    expect(await client.consents.grant('newsletter', 1)).toMatchObject({ state: 'granted', version: 1 });
    expect(await client.consents.withdraw('newsletter')).toMatchObject({ state: 'withdrawn' });
    expect((await client.dialogs.list()).dialogs).toEqual([]);
  });
});
