import { sessionListBody } from '@parley/protocol';
import { z } from 'zod';
import { AppError } from '../app-error.ts';
import { principalOf } from '../http/auth-hook.ts';
import { requestContext } from '../http/request-context.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { AuditInput } from '../compliance/audit/audit-entry.ts';
import type { ClientService } from './oauth/client-service.ts';
import type { Principal, SessionService } from './sessions/session-service.ts';
import type { UserAdminService } from './user-admin-service.ts';
import type { UserService } from './user-service.ts';

const userParams = z.object({ userId: z.uuid() });
const sessionParams = z.object({ userId: z.uuid(), sessionId: z.string().min(1).max(64) });
const roleParams = z.object({ name: z.string().regex(/^[a-z][a-z0-9_]{1,63}$/) });
const clientParams = z.object({ clientId: z.string().min(1).max(100) });
const clientList = z
  .object({
    clients: z.array(
      z.object({
        clientId: z.string(),
        name: z.string(),
        scopes: z.array(z.string()),
        createdAt: z.string(),
      }),
    ),
  })
  .meta({ id: 'ClientList' });
const customRoleList = z
  .object({
    roles: z.array(z.object({ name: z.string(), permissions: z.array(z.string()) })),
  })
  .meta({ id: 'CustomRoleList' });

/** Who the audit entry names: the admin, or operator staff under a support grant. */
const auditActor = (principal: Principal): AuditInput['actor'] =>
  principal.supportGrant
    ? { type: 'staff', id: principal.supportGrant.staffId, sessionId: principal.sessionId }
    : principal.userId === null
      ? { type: 'client', id: principal.clientId ?? undefined, sessionId: principal.sessionId }
      : { type: 'user', id: principal.userId, sessionId: principal.sessionId };

/** Only users administer; a tenant's server (client_credentials) may not. */
const userActor = (principal: Principal) => {
  if (principal.userId === null)
    throw new AppError('forbidden', 'This endpoint is for users, not API clients.');
  return { userId: principal.userId, sessionId: principal.sessionId };
};

/**
 * What the console's admin pages need beside `admin-routes.ts`: the tenant's custom roles (list, delete), its
 * OAuth clients (list, rotate the secret, delete), and one user's signed-in devices, each of which an admin may
 * end (a lost laptop, a shared kiosk).
 */
export function adminConsoleRoutes(deps: {
  users: UserService;
  userAdmin: UserAdminService;
  sessions: SessionService;
  clients: ClientService;
}): RouteDeclaration[] {
  return [
    {
      method: 'DELETE',
      url: '/v1/roles/:name',
      operationId: 'deleteCustomRole',
      summary: 'Delete a custom role no user holds (conflict while someone does).',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'roles.manage' },
      schema: { params: roleParams },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { name } = roleParams.parse(request.params);
        await deps.userAdmin.deleteRole(
          principal.tenantId,
          userActor(principal),
          name,
          requestContext(request),
        );
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: '/v1/clients',
      operationId: 'listClients',
      summary: 'The tenant’s OAuth clients (never their secrets).',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'clients.manage' },
      schema: { response: { 200: clientList } },
      handler: async (request) => ({
        clients: await deps.clients.listClients(principalOf(request).tenantId),
      }),
    },
    {
      method: 'POST',
      url: '/v1/clients/:clientId/secret',
      operationId: 'rotateClientSecret',
      summary: 'A new secret for a client, shown once; the old one and the client’s tokens stop working.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'clients.manage' },
      schema: {
        params: clientParams,
        response: { 200: z.object({ clientId: z.string(), clientSecret: z.string() }) },
      },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { clientId } = clientParams.parse(request.params);
        const rotated = await deps.clients.rotateSecret(
          principal.tenantId,
          clientId,
          userActor(principal),
          requestContext(request),
        );
        return reply.header('cache-control', 'no-store').send(rotated);
      },
    },
    {
      method: 'DELETE',
      url: '/v1/clients/:clientId',
      operationId: 'deleteClient',
      summary: 'Delete a client: its secret is refused and its tokens end.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'clients.manage' },
      schema: { params: clientParams },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { clientId } = clientParams.parse(request.params);
        await deps.clients.deleteClient(
          principal.tenantId,
          clientId,
          userActor(principal),
          requestContext(request),
        );
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: '/v1/roles',
      operationId: 'listCustomRoles',
      summary: 'The tenant’s custom roles and their permissions (built-in roles are in the documentation).',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'roles.manage' },
      schema: { response: { 200: customRoleList } },
      handler: async (request) => ({ roles: await deps.userAdmin.listRoles(principalOf(request).tenantId) }),
    },
    {
      method: 'GET',
      url: '/v1/users/:userId/sessions',
      operationId: 'listUserSessions',
      summary: 'A user’s signed-in devices (the user must be in the caller’s tenant).',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.manage' },
      schema: { params: userParams, response: { 200: sessionListBody } },
      handler: async (request) => {
        const principal = principalOf(request);
        const { userId } = userParams.parse(request.params);
        await deps.users.getUser(principal.tenantId, userId); // not_found outside the tenant
        const rows = await deps.sessions.listUserSessions(principal.tenantId, userId);
        return {
          sessions: rows.map((row) => ({
            id: row.id,
            current: row.id === principal.sessionId,
            clientId: row.client_id,
            device: row.deviceInfo?.userAgent ?? null,
            scopes: row.scopes.split(' ').filter(Boolean),
            createdAt: new Date(row.created_at).toISOString(),
            lastUsedAt: new Date(row.last_used_at).toISOString(),
          })),
        };
      },
    },
    {
      method: 'DELETE',
      url: '/v1/users/:userId/sessions/:sessionId',
      operationId: 'endUserSession',
      summary: 'Sign one of a user’s devices out (audited with the admin as actor).',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.manage' },
      schema: { params: sessionParams },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { userId, sessionId } = sessionParams.parse(request.params);
        await deps.userAdmin.endUserSession(
          principal.tenantId,
          { audit: auditActor(principal), isOwner: principal.roles.includes('owner') },
          userId,
          sessionId,
        );
        return reply.code(204).send();
      },
    },
  ];
}
