import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RouteDeclaration } from '../../src/http/route-table.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { newStaff, type SignedInStaff } from '../support/staff-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Attack: an operator staff member (any role, with a valid staff session, naming no support grant) calls a
 * tenant's routes with their staff token — or a tenant's owner calls the platform routes with theirs. Every
 * route in the route table is walked and each request sent for real: the staff token gets 404 on every tenant
 * route (it cannot even learn that the resource exists), the tenant token 404 on every platform route.
 */
describeEachDialect('staff and tenant tokens never cross', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let staff: SignedInStaff[];
  let routes: readonly RouteDeclaration[];

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    routes = server.app.fastify.routeDeclarations;
    owner = await newTenantOwner(server, 'Walled Garden');
    staff = [
      await newStaff(server, 'platform_admin'),
      await newStaff(server, 'support'),
      await newStaff(server, 'security_officer'),
    ];
  });
  afterAll(async () => {
    await server.close();
  });

  const key = (route: RouteDeclaration) => `${route.method} ${route.url}`;
  /** Path parameters point at the owner's own tenant and a syntactically valid id. */
  const pathOf = (route: RouteDeclaration) =>
    route.url
      .replace(':tenantId', owner.tenantId)
      .replace(/:([A-Za-z]+)/g, '00000000-0000-7000-8000-000000000000');
  const send = (route: RouteDeclaration, token: string) =>
    server.request(pathOf(route), { method: route.method, headers: { authorization: `Bearer ${token}` } });

  it('answers 404 to a staff token on every tenant route, whatever the staff role', async () => {
    const tenantRoutes = routes.filter((route) => route.access.kind === 'authenticated');
    expect(tenantRoutes.length).toBeGreaterThan(50);
    for (const route of tenantRoutes) {
      for (const member of staff) {
        const response = await send(route, member.accessToken);
        expect(response.status, `${key(route)} as ${member.role}`).toBe(404);
        // The /oauth/ endpoints answer errors in RFC 6749's shape; the status says the same.
        if (!route.url.startsWith('/oauth/'))
          expect(response.json(), key(route)).toMatchObject({ error: { code: 'not_found' } });
      }
    }
  });

  it('answers 404 to a tenant token on every platform route, and 401 without a token', async () => {
    const platformRoutes = routes.filter((route) => route.access.kind === 'platform');
    // The inventory of platform routes: a new one must be added here, deliberately.
    expect(platformRoutes.map(key).sort()).toEqual([
      'DELETE /v1/platform/sessions/current',
      'GET /v1/platform/changes',
      'GET /v1/platform/health',
      'GET /v1/platform/incidents',
      'GET /v1/platform/incidents/:incidentId',
      'GET /v1/platform/incidents/:incidentId/scope',
      'GET /v1/platform/legal-requests',
      'GET /v1/platform/legal-requests/:requestId/package',
      'GET /v1/platform/legal-requests/:requestId/package/archive',
      'GET /v1/platform/me',
      'GET /v1/platform/risks',
      'GET /v1/platform/risks.csv',
      'GET /v1/platform/staff',
      'GET /v1/platform/support-grants',
      'GET /v1/platform/support-reviews',
      'GET /v1/platform/support-reviews/report',
      'PATCH /v1/platform/incidents/:incidentId',
      'POST /v1/platform/changes',
      'POST /v1/platform/changes/:changeId/done',
      'POST /v1/platform/incidents',
      'POST /v1/platform/incidents/:incidentId/actions',
      'POST /v1/platform/incidents/:incidentId/actions/:actionId/done',
      'POST /v1/platform/incidents/:incidentId/authority-notification',
      'POST /v1/platform/incidents/:incidentId/close',
      'POST /v1/platform/incidents/:incidentId/scope',
      'POST /v1/platform/incidents/:incidentId/tenant-notices',
      'POST /v1/platform/incidents/:incidentId/user-notices',
      'POST /v1/platform/legal-requests',
      'POST /v1/platform/legal-requests/:requestId/disclosure',
      'POST /v1/platform/legal-requests/:requestId/package',
      'POST /v1/platform/legal-requests/:requestId/review',
      'POST /v1/platform/legal-requests/:requestId/tenant-notice',
      'POST /v1/platform/risks',
      'POST /v1/platform/risks/:riskId/reviews',
      'POST /v1/platform/support-grants',
      'POST /v1/platform/support-reviews',
      'PUT /v1/platform/changes/:changeId/assessment',
      'PUT /v1/platform/incidents/:incidentId/rca',
    ]);
    for (const route of platformRoutes) {
      const response = await send(route, owner.accessToken);
      expect(response.status, key(route)).toBe(404);
      expect(response.json(), key(route)).toMatchObject({ error: { code: 'not_found' } });
      const anonymous = await server.request(pathOf(route), { method: route.method });
      expect(anonymous.status, key(route)).toBe(401);
    }
    // The tenant's session is untouched, and the staff sessions still work on their own routes.
    expect(
      (await server.request('/v1/me', { headers: { authorization: `Bearer ${owner.accessToken}` } })).status,
    ).toBe(200);
    for (const member of staff) {
      const me = await server.request('/v1/platform/me', {
        headers: { authorization: `Bearer ${member.accessToken}` },
      });
      expect(me.status, member.role).toBe(200);
    }
  });

  it('keeps all platform routes under /v1/platform/ and no tenant route there', () => {
    for (const route of routes) {
      const underPlatform = route.url.startsWith('/v1/platform/');
      if (route.access.kind === 'platform') expect(underPlatform, key(route)).toBe(true);
      if (route.access.kind === 'authenticated') expect(underPlatform, key(route)).toBe(false);
    }
  });

  it('does not resolve a staff token as a tenant session (realtime, introspection, revocation)', async () => {
    for (const member of staff) {
      expect(await server.app.services.sessions.validate(member.accessToken)).toBe('invalid');
      expect(await server.app.services.sessions.inspect(member.accessToken, owner.tenantId)).toBeUndefined();
    }
  });
});
