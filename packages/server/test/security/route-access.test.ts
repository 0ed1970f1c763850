import { builtInRoles, type Scope, scopes } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInRolePermissions } from '../../src/access/roles.ts';
import type { RouteDeclaration } from '../../src/http/route-table.ts';
import { json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { newStaff } from '../support/staff-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Attack: calling an endpoint without a token, with a token that lacks the scope, as a user whose roles
 * lack the permission, or with the id of another tenant's resource. Every registered route is walked and
 * each refusal is sent for real. A new route without a declaration, or with a path parameter this file
 * does not know how to point at another tenant's resource, fails here.
 */
const password = 'plum tree under the winter moon';

/** How to name another tenant's resource in each path parameter (and a valid body to get past validation). */
type CrossTenantFixture = (other: OtherTenant) => { path: string; body?: unknown };
interface OtherTenant {
  tenantId: string;
  userId: string;
  sessionId: string;
  /** An OAuth client of the other tenant. */
  clientId: string;
  dialogId: string;
  messageId: string;
  attachmentId: string;
  /** A processing purpose only the other tenant has. */
  purposeKey: string;
  /** A data subject request about the other tenant's owner. */
  requestId: string;
  /** An export of the other tenant's owner, asked for by them. */
  exportId: string;
  /** A legal hold the other tenant placed on its owner. */
  holdId: string;
  /** A support access request operator staff made to the other tenant. */
  grantId: string;
  /** An incident that concerns only the other tenant, its RCA attached. */
  incidentId: string;
}
const message = (other: OtherTenant) => `/v1/dialogs/${other.dialogId}/messages/${other.messageId}`;
const crossTenant: Record<string, CrossTenantFixture> = {
  'GET /v1/attachments/:attachmentId': (other) => ({ path: `/v1/attachments/${other.attachmentId}` }),
  'DELETE /v1/attachments/:attachmentId': (other) => ({ path: `/v1/attachments/${other.attachmentId}` }),
  'DELETE /v1/me/sessions/:sessionId': (other) => ({ path: `/v1/me/sessions/${other.sessionId}` }),
  'GET /v1/dialogs/:dialogId': (other) => ({ path: `/v1/dialogs/${other.dialogId}` }),
  'PATCH /v1/dialogs/:dialogId': (other) => ({
    path: `/v1/dialogs/${other.dialogId}`,
    body: { pinned: true },
  }),
  'DELETE /v1/dialogs/:dialogId': (other) => ({ path: `/v1/dialogs/${other.dialogId}?mode=everyone` }),
  'POST /v1/dialogs/:dialogId/members/me': (other) => ({ path: `/v1/dialogs/${other.dialogId}/members/me` }),
  'GET /v1/dialogs/:dialogId/messages': (other) => ({ path: `/v1/dialogs/${other.dialogId}/messages` }),
  'POST /v1/dialogs/:dialogId/messages': (other) => ({
    path: `/v1/dialogs/${other.dialogId}/messages`,
    body: { clientId: 'cross-tenant', body: 'hello' },
  }),
  'POST /v1/dialogs/:dialogId/read': (other) => ({
    path: `/v1/dialogs/${other.dialogId}/read`,
    body: { seq: 1 },
  }),
  'POST /v1/dialogs/:dialogId/delivered': (other) => ({
    path: `/v1/dialogs/${other.dialogId}/delivered`,
    body: { seq: 1 },
  }),
  'GET /v1/dialogs/:dialogId/receipts': (other) => ({ path: `/v1/dialogs/${other.dialogId}/receipts` }),
  'POST /v1/dialogs/:dialogId/members': (other) => ({
    path: `/v1/dialogs/${other.dialogId}/members`,
    body: { userIds: [other.userId] },
  }),
  'DELETE /v1/dialogs/:dialogId/members/:userId': (other) => ({
    path: `/v1/dialogs/${other.dialogId}/members/${other.userId}`,
  }),
  'PATCH /v1/dialogs/:dialogId/members/:userId': (other) => ({
    path: `/v1/dialogs/${other.dialogId}/members/${other.userId}`,
    body: { role: 'admin' },
  }),
  'PATCH /v1/dialogs/:dialogId/messages/:messageId': (other) => ({
    path: message(other),
    body: { body: 'rewritten' },
  }),
  'DELETE /v1/dialogs/:dialogId/messages/:messageId': (other) => ({ path: `${message(other)}?for=everyone` }),
  'PUT /v1/dialogs/:dialogId/messages/:messageId/reactions/:emoji': (other) => ({
    path: `${message(other)}/reactions/${encodeURIComponent('👍')}`,
  }),
  'DELETE /v1/dialogs/:dialogId/messages/:messageId/reactions/:emoji': (other) => ({
    path: `${message(other)}/reactions/${encodeURIComponent('👍')}`,
  }),
  'GET /v1/dialogs/:dialogId/calls': (other) => ({ path: `/v1/dialogs/${other.dialogId}/calls` }),
  'GET /v1/users/:userId/presence': (other) => ({ path: `/v1/users/${other.userId}/presence` }),
  'PUT /v1/me/blocks/:userId': (other) => ({ path: `/v1/me/blocks/${other.userId}` }),
  'PUT /v1/users/:userId/roles': (other) => ({
    path: `/v1/users/${other.userId}/roles`,
    body: { roles: ['member'] },
  }),
  'DELETE /v1/users/:userId/mfa': (other) => ({ path: `/v1/users/${other.userId}/mfa` }),
  'GET /v1/users/:userId/sessions': (other) => ({ path: `/v1/users/${other.userId}/sessions` }),
  'POST /v1/clients/:clientId/secret': (other) => ({ path: `/v1/clients/${other.clientId}/secret` }),
  'DELETE /v1/clients/:clientId': (other) => ({ path: `/v1/clients/${other.clientId}` }),
  'DELETE /v1/users/:userId/sessions/:sessionId': (other) => ({
    path: `/v1/users/${other.userId}/sessions/${other.sessionId}`,
  }),
  'GET /v1/users/:userId/consent-ledger': (other) => ({ path: `/v1/users/${other.userId}/consent-ledger` }),
  'PUT /v1/me/consents/:key': (other) => ({
    path: `/v1/me/consents/${other.purposeKey}`,
    body: { version: 1 },
  }),
  'DELETE /v1/me/consents/:key': (other) => ({ path: `/v1/me/consents/${other.purposeKey}` }),
  'PATCH /v1/consent-purposes/:key': (other) => ({
    path: `/v1/consent-purposes/${other.purposeKey}`,
    body: { required: true },
  }),
  'GET /v1/consent-purposes/:key/versions': (other) => ({
    path: `/v1/consent-purposes/${other.purposeKey}/versions`,
  }),
  'PATCH /v1/users/:userId': (other) => ({
    path: `/v1/users/${other.userId}`,
    body: { status: 'deactivated' },
  }),
  'GET /v1/privacy/requests/:requestId': (other) => ({ path: `/v1/privacy/requests/${other.requestId}` }),
  'PATCH /v1/privacy/requests/:requestId': (other) => ({
    path: `/v1/privacy/requests/${other.requestId}`,
    body: { status: 'cancelled', outcome: 'Cancelled across tenants.' },
  }),
  'POST /v1/privacy/requests/:requestId/extension': (other) => ({
    path: `/v1/privacy/requests/${other.requestId}/extension`,
    body: { until: new Date(Date.now() + 40 * 86_400_000).toISOString(), reason: 'Across tenants.' },
  }),
  'POST /v1/users/:userId/restriction': (other) => ({
    path: `/v1/users/${other.userId}/restriction`,
    body: { reason: 'Across tenants.' },
  }),
  'POST /v1/users/:userId/restriction/lift': (other) => ({
    path: `/v1/users/${other.userId}/restriction/lift`,
    body: { reason: 'Across tenants.' },
  }),
  'GET /v1/users/:userId/restrictions': (other) => ({ path: `/v1/users/${other.userId}/restrictions` }),
  'POST /v1/users/:userId/exports': (other) => ({ path: `/v1/users/${other.userId}/exports` }),
  'GET /v1/users/:userId/exports': (other) => ({ path: `/v1/users/${other.userId}/exports` }),
  'GET /v1/exports/:exportId': (other) => ({ path: `/v1/exports/${other.exportId}` }),
  'GET /v1/exports/:exportId/archive': (other) => ({ path: `/v1/exports/${other.exportId}/archive` }),
  'DELETE /v1/exports/:exportId': (other) => ({ path: `/v1/exports/${other.exportId}` }),
  'GET /v1/me/exports/:exportId': (other) => ({ path: `/v1/me/exports/${other.exportId}` }),
  'GET /v1/me/exports/:exportId/archive': (other) => ({ path: `/v1/me/exports/${other.exportId}/archive` }),
  'DELETE /v1/me/exports/:exportId': (other) => ({ path: `/v1/me/exports/${other.exportId}` }),
  'POST /v1/users/:userId/rectification': (other) => ({
    path: `/v1/users/${other.userId}/rectification`,
    body: { changes: { displayName: 'Renamed across tenants' } },
  }),
  'POST /v1/users/:userId/erasure': (other) => ({
    path: `/v1/users/${other.userId}/erasure`,
    body: { graceDays: 0 },
  }),
  'GET /v1/users/:userId/erasure': (other) => ({ path: `/v1/users/${other.userId}/erasure` }),
  'DELETE /v1/users/:userId/erasure': (other) => ({ path: `/v1/users/${other.userId}/erasure` }),
  'GET /v1/retention/dialogs/:dialogId': (other) => ({ path: `/v1/retention/dialogs/${other.dialogId}` }),
  'PUT /v1/retention/dialogs/:dialogId': (other) => ({
    path: `/v1/retention/dialogs/${other.dialogId}`,
    body: { messages: '1h' },
  }),
  'DELETE /v1/retention/dialogs/:dialogId': (other) => ({ path: `/v1/retention/dialogs/${other.dialogId}` }),
  'PUT /v1/dialogs/:dialogId/retention': (other) => ({
    path: `/v1/dialogs/${other.dialogId}/retention`,
    body: { messages: '1h' },
  }),
  'GET /v1/legal-holds/:holdId': (other) => ({ path: `/v1/legal-holds/${other.holdId}` }),
  'POST /v1/legal-holds/:holdId/release': (other) => ({ path: `/v1/legal-holds/${other.holdId}/release` }),
  'POST /v1/support-grants/:grantId/approve': (other) => ({
    path: `/v1/support-grants/${other.grantId}/approve`,
    body: {},
  }),
  'POST /v1/support-grants/:grantId/refuse': (other) => ({
    path: `/v1/support-grants/${other.grantId}/refuse`,
  }),
  'POST /v1/support-grants/:grantId/revoke': (other) => ({
    path: `/v1/support-grants/${other.grantId}/revoke`,
  }),
  'GET /v1/support-grants/:grantId/accesses': (other) => ({
    path: `/v1/support-grants/${other.grantId}/accesses`,
  }),
  'POST /v1/incidents/:incidentId/rca-request': (other) => ({
    path: `/v1/incidents/${other.incidentId}/rca-request`,
  }),
  'GET /v1/incidents/:incidentId/rca': (other) => ({ path: `/v1/incidents/${other.incidentId}/rca` }),
};
/** Path parameters that name nothing owned by another tenant (a name in the caller's own namespace). */
const notTenantResources = new Set([
  'PUT /v1/roles/:name',
  'DELETE /v1/roles/:name',
  // Removing a block from your own list: succeeds (204) whoever the id names; nothing of theirs is touched.
  'DELETE /v1/me/blocks/:userId',
]);

describe('every route refuses callers without its scope, permission or tenant', () => {
  let server: TestServer;
  let owner: SignedIn;
  let other: OtherTenant;
  let routes: readonly RouteDeclaration[];
  const tokensByRole = new Map<string, string>();

  beforeAll(async () => {
    server = await startTestServer();
    routes = server.app.fastify.routeDeclarations;
    owner = await newTenantOwner(server, 'Walker Inc');
    for (const role of builtInRoles.filter((entry) => entry !== 'owner')) {
      const email = `${role}@walker.example`;
      const created = await server.request(
        '/v1/users',
        json({ displayName: `A ${role}`, email, password, roles: [role] }, owner.accessToken),
      );
      expect(created.status, created.text).toBe(201);
      tokensByRole.set(
        role,
        (await signIn(server, owner.tenantId, email, password, scopes.join(' '))).accessToken,
      );
    }
    const otherOwner = await newTenantOwner(server, 'Other Corp');
    const sessions = await server.app.services.sessions.listUserSessions(
      otherOwner.tenantId,
      otherOwner.userId,
    );
    // A public dialog: the most open kind, so a 404 can only come from the tenant boundary.
    const dialog = await server.request(
      '/v1/dialogs',
      json({ type: 'public', name: 'Town square' }, otherOwner.accessToken),
    );
    expect(dialog.status, dialog.text).toBe(201);
    // Shared in that public dialog, so any member there may read it: again only the tenant boundary refuses.
    const file = await server.request('/v1/attachments?name=welcome.txt', {
      method: 'POST',
      headers: { authorization: `Bearer ${otherOwner.accessToken}`, 'content-type': 'text/plain' },
      body: 'Welcome pack',
    });
    expect(file.status, file.text).toBe(201);
    const attachmentId = file.json<{ id: string }>().id;
    const sent = await server.request(
      `/v1/dialogs/${dialog.json<{ id: string }>().id}/messages`,
      json({ clientId: 'first', body: 'Welcome', attachments: [attachmentId] }, otherOwner.accessToken),
    );
    expect(sent.status, sent.text).toBe(201);
    // Purposes are named by key within a tenant: this one exists only in the other tenant.
    const purpose = await server.request(
      '/v1/consent-purposes',
      json(
        { key: 'other_only', title: 'Theirs', text: 'Their purpose.', lawfulBasis: 'consent' },
        otherOwner.accessToken,
      ),
    );
    expect(purpose.status, purpose.text).toBe(201);
    const request = await server.request(
      '/v1/privacy/requests',
      json({ subjectId: otherOwner.userId, kind: 'access' }, otherOwner.accessToken),
    );
    expect(request.status, request.text).toBe(201);
    const exported = await server.request('/v1/me/exports', {
      method: 'POST',
      headers: { authorization: `Bearer ${otherOwner.accessToken}` },
    });
    expect(exported.status, exported.text).toBe(202);
    const hold = await server.request(
      '/v1/legal-holds',
      json({ targetType: 'user', targetId: otherOwner.userId, reason: 'Their case' }, otherOwner.accessToken),
    );
    expect(hold.status, hold.text).toBe(201);
    const client = await server.request(
      '/v1/clients',
      json({ name: 'Their server', scopes: ['chat'] }, otherOwner.accessToken),
    );
    expect(client.status, client.text).toBe(201);
    const staff = await newStaff(server, 'support');
    const grant = await server.request(
      '/v1/platform/support-grants',
      json(
        {
          tenantId: otherOwner.tenantId,
          reason: 'Their ticket about sign-in.',
          scope: 'metadata',
          durationHours: 1,
        },
        staff.accessToken,
      ),
    );
    expect(grant.status, grant.text).toBe(201);
    // An incident scoped to the other tenant only (its owner's own entries), with an RCA to download.
    const officer = { staffId: staff.id, sessionId: 'route-walk', role: 'security_officer' as const };
    const incident = await server.app.services.incidents.open(officer, {
      title: 'Their incident',
      description: 'Concerns the other tenant only.',
      severity: 'low',
      awareAt: new Date().toISOString(),
      dataCategories: [],
      general: false,
    });
    await server.app.services.incidents.scope(officer, incident.id, {
      from: 0,
      to: Date.now() + 60_000,
      sessionIds: [],
      userIds: [otherOwner.userId],
      ipAddresses: [],
    });
    await server.app.services.incidents.attachRca(officer, incident.id, 'Their root cause.');
    other = {
      incidentId: incident.id,
      grantId: grant.json<{ id: string }>().id,
      exportId: exported.json<{ id: string }>().id,
      holdId: hold.json<{ id: string }>().id,
      purposeKey: 'other_only',
      requestId: request.json<{ id: string }>().id,
      messageId: sent.json<{ id: string }>().id,
      attachmentId,
      tenantId: otherOwner.tenantId,
      userId: otherOwner.userId,
      sessionId: sessions[0]?.id ?? '',
      clientId: client.json<{ clientId: string }>().clientId,
      dialogId: dialog.json<{ id: string }>().id,
    };
  });

  afterAll(async () => {
    await server.close();
  });

  const key = (route: RouteDeclaration) => `${route.method} ${route.url}`;
  const authenticated = () => routes.filter((route) => route.access.kind === 'authenticated');
  const concretePath = (url: string) => url.replace(/:([A-Za-z]+)/g, '00000000-0000-7000-8000-000000000000');
  const send = (route: RouteDeclaration, token?: string, path = concretePath(route.url), body?: unknown) =>
    server.request(path, {
      method: route.method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('every route declares its access, and every non-public route a scope', () => {
    expect(routes.length).toBeGreaterThan(15);
    for (const route of routes) {
      expect(route.access, key(route)).toBeDefined();
      if (route.access.kind === 'authenticated') expect(scopes, key(route)).toContain(route.access.scope);
    }
    // Public routes are few and known: operations endpoints, OAuth, joining a tenant.
    expect(
      routes
        .filter((route) => route.access.kind === 'public')
        .map(key)
        .sort(),
    ).toEqual(
      [
        'GET /.well-known/security.txt',
        'GET /asyncapi.json',
        'GET /v1/incident-feed',
        'GET /v1/incident-feed.atom',
        'GET /v1/transparency-report',
        'GET /livez',
        'GET /openapi.json',
        'GET /readyz',
        'GET /v1/tenants/:tenantId/consent-purposes',
        'GET /version',
        'POST /oauth/revoke',
        'POST /oauth/token',
        'POST /v1/email/verify',
        'POST /v1/email/change/confirm',
        'POST /v1/password-reset/confirm',
        'POST /v1/platform/enrolment',
        'POST /v1/platform/sessions',
        'POST /v1/tenants/:tenantId/password-reset',
        'POST /v1/tenants/:tenantId/setup',
        'POST /v1/tenants/:tenantId/signup',
      ].sort(),
    );
  });

  it('answers 401 to a request without a token', async () => {
    for (const route of authenticated()) {
      const response = await send(route);
      expect(response.status, key(route)).toBe(401);
    }
  });

  it('answers 403 insufficient_scope to a token without the route’s scope', async () => {
    const tokens = new Map<Scope, string>();
    for (const scope of scopes) {
      tokens.set(
        scope,
        (
          await signIn(
            server,
            owner.tenantId,
            owner.email,
            'correct horse battery staple 2024',
            scopes.filter((entry) => entry !== scope).join(' '),
          )
        ).accessToken,
      );
    }
    for (const route of authenticated()) {
      if (route.access.kind !== 'authenticated') continue;
      const response = await send(route, tokens.get(route.access.scope));
      expect(response.status, key(route)).toBe(403);
      expect(response.text, key(route)).toContain('insufficient_scope');
    }
  });

  it('answers 403 forbidden to a user whose roles lack the permission', async () => {
    let checked = 0;
    for (const route of authenticated()) {
      if (route.access.kind !== 'authenticated' || route.access.permission === null) continue;
      const permission = route.access.permission;
      const lacking = builtInRoles.filter((role) => !builtInRolePermissions[role].includes(permission));
      for (const role of lacking) {
        const response = await send(route, tokensByRole.get(role));
        expect(response.status, `${key(route)} as ${role}`).toBe(403);
        expect(response.text, `${key(route)} as ${role}`).toMatch(/forbidden|unauthorized_client/);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('answers 404 when the path names another tenant’s resource', async () => {
    for (const route of authenticated()) {
      if (!route.url.includes(':')) continue;
      if (notTenantResources.has(key(route))) continue;
      const fixture = crossTenant[key(route)];
      expect(fixture, `${key(route)} needs a cross-tenant fixture in this test`).toBeDefined();
      if (!fixture) continue;
      const { path, body } = fixture(other);
      const response = await send(route, owner.accessToken, path, body);
      expect(response.status, key(route)).toBe(404);
    }
    // And the other tenant's data is untouched.
    const sessions = await server.app.services.sessions.listUserSessions(other.tenantId, other.userId);
    expect(sessions.map((session) => session.id)).toContain(other.sessionId);
    const dialog = await server.app.services.dialogs.get(other.tenantId, other.userId, other.dialogId);
    expect(dialog).toMatchObject({ lastSeq: 1, memberIds: [other.userId] });
    expect(dialog.lastMessage).toMatchObject({ body: 'Welcome', editedAt: null, reactions: [] });
    const purposes = await server.app.services.consentPurposes.versions(other.tenantId, other.purposeKey);
    expect(purposes.map((row) => [row.version, row.required])).toEqual([[1, 0]]);
    const request = await server.app.services.dsr.get(other.tenantId, other.requestId);
    expect(request).toMatchObject({ status: 'received', extendedUntil: null });
    const user = await server.app.services.users.getUser(other.tenantId, other.userId);
    expect(user).toMatchObject({ status: 'active', displayName: 'Olivia Owner' });
    expect(await server.app.services.legalHolds.get(other.tenantId, other.holdId)).toMatchObject({
      active: true,
    });
    expect(await server.app.services.supportGrants.listForTenant(other.tenantId)).toEqual([
      expect.objectContaining({ id: other.grantId, status: 'pending' }),
    ]);
    expect(await server.app.services.incidents.forTenant(other.tenantId)).toEqual([
      expect.objectContaining({ id: other.incidentId, rcaRequestedAt: null }),
    ]);
    expect(await server.app.services.retention.getDialog(other.tenantId, other.dialogId)).not.toHaveProperty(
      'messages',
    );
    const file = await server.app.services.attachments.open(other.tenantId, other.userId, other.attachmentId);
    expect(file).toMatchObject({ name: 'welcome.txt', size: 'Welcome pack'.length });
  });
});
