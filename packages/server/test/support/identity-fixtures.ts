import type { TestResponse, TestServer } from './start-server.ts';

export const ownerPassword = 'correct horse battery staple 2024';

export interface SignedIn {
  tenantId: string;
  userId: string;
  email: string;
  accessToken: string;
  refreshToken: string;
}

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

/** POST /oauth/token with form fields, as a client app would. */
export function tokenRequest(server: TestServer, fields: Record<string, string>): Promise<TestResponse> {
  return server.request('/oauth/token', form(fields));
}

export function postForm(
  server: TestServer,
  path: string,
  fields: Record<string, string>,
): Promise<TestResponse> {
  return server.request(path, form(fields));
}

export function json(body: unknown, token?: string, method = 'POST') {
  return {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  };
}

export const bearer = (token: string, method = 'GET') => ({
  method,
  headers: { authorization: `Bearer ${token}` },
});

/** A new tenant claimed by its owner over the real API, then signed in with the given scopes. */
export async function newTenantOwner(
  server: TestServer,
  name = 'Acme Health',
  scope = 'profile chat calls admin audit',
): Promise<SignedIn> {
  const tenant = await server.app.tenants.createTenant(name);
  // Unique per tenant, from letters and digits that do not occur in the owner password (the policy refuses a
  // password that contains part of the e-mail address).
  const suffix = tenant.tenantId
    .replaceAll('-', '')
    .slice(-8)
    .replace(/[0-9a-f]/g, (digit) => 'dfgijkmnquvwxz13'.charAt(parseInt(digit, 16)));
  const email = `owner-${suffix}@acme.example`;
  const setup = await server.request(
    `/v1/tenants/${tenant.tenantId}/setup`,
    json({
      setupToken: tenant.ownerSetupToken,
      displayName: 'Olivia Owner',
      email,
      password: ownerPassword,
      acceptedPurposes: await requiredPurposes(server, tenant.tenantId),
    }),
  );
  if (setup.status !== 201) throw new Error(`owner setup failed: ${setup.text}`);
  const userId = setup.json<{ userId: string }>().userId;
  return {
    tenantId: tenant.tenantId,
    userId,
    email,
    ...(await signIn(server, tenant.tenantId, email, ownerPassword, scope)),
  };
}

export async function signIn(
  server: TestServer,
  tenantId: string,
  email: string,
  password: string,
  scope?: string,
) {
  const response = await tokenRequest(server, {
    grant_type: 'password',
    tenant_id: tenantId,
    username: email,
    password,
    ...(scope ? { scope } : {}),
  });
  if (response.status !== 200) throw new Error(`sign-in failed: ${response.status} ${response.text}`);
  const body = response.json<{ access_token: string; refresh_token: string; parley_notice?: string }>();
  // As a real client would: a user who has not accepted the required purposes (made by an admin, or after
  // a new version) accepts them, and the same token then works in full.
  if (body.parley_notice === 'consent_required') await acceptOwedConsents(server, body.access_token);
  return { accessToken: body.access_token, refreshToken: body.refresh_token };
}

/** The tenant's required purposes at their current versions, as a sign-up form accepts them. */
export async function requiredPurposes(
  server: TestServer,
  tenantId: string,
): Promise<{ key: string; version: number }[]> {
  const response = await server.request(`/v1/tenants/${tenantId}/consent-purposes`);
  if (response.status !== 200) throw new Error(`consent purposes: ${response.status} ${response.text}`);
  return response
    .json<{ purposes: { key: string; version: number; required: boolean }[] }>()
    .purposes.filter((purpose) => purpose.required)
    .map(({ key, version }) => ({ key, version }));
}

/** Grants every required purpose the token's user has not granted at its current version. */
export async function acceptOwedConsents(server: TestServer, accessToken: string): Promise<void> {
  const listed = await server.request('/v1/me/consents', bearer(accessToken));
  if (listed.status !== 200) throw new Error(`consents: ${listed.status} ${listed.text}`);
  const { consents } = listed.json<{
    consents: { purpose: { key: string; version: number; required: boolean }; state: string }[];
  }>();
  for (const { purpose } of consents.filter((entry) => entry.purpose.required && entry.state !== 'granted')) {
    const granted = await server.request(
      `/v1/me/consents/${purpose.key}`,
      json({ version: purpose.version }, accessToken, 'PUT'),
    );
    if (granted.status !== 200) throw new Error(`grant ${purpose.key}: ${granted.status} ${granted.text}`);
  }
}

export const memberPassword = 'plum tree under the winter moon';

/** A user with the `member` role, created by the owner, signed in with `scope`. */
export async function newMember(
  server: TestServer,
  owner: SignedIn,
  email: string,
  scope = 'profile chat',
): Promise<{ userId: string; token: string }> {
  const displayName = email.split('@')[0] ?? email;
  const created = await server.request(
    '/v1/users',
    json({ displayName, email, password: memberPassword, roles: ['member'] }, owner.accessToken),
  );
  return {
    userId: created.json<{ userId: string }>().userId,
    token: (await signIn(server, owner.tenantId, email, memberPassword, scope)).accessToken,
  };
}
