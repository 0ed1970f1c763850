import {
  exportPrivacySettings,
  exportPrivacySettingsPatch,
  type ListUsersQuery,
  listUsersQuery,
  lookUpUserQuery,
  permissions,
  roleNameSchema,
  scopes,
  type UserPageBody,
  userPage,
} from '@parley/protocol';
import { z } from 'zod';
import { AppError } from '../app-error.ts';
import { principalOf } from '../http/auth-hook.ts';
import { requestContext } from '../http/request-context.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { TenantSettingsService } from '../tenancy/tenant-settings-service.ts';
import type { AuditInput } from '../compliance/audit/audit-entry.ts';
import type { AccountService } from './account-service.ts';
import type { ClientService } from './oauth/client-service.ts';
import type { Principal } from './sessions/session-service.ts';
import type { ListedUser, UserService } from './user-service.ts';
import type { UserAdminService } from './user-admin-service.ts';

const settingsBody = z.object({
  signupMode: z.enum(['open', 'invite_only', 'admin_created']),
  passwordPolicy: z.record(z.string(), z.unknown()),
  accessTokenTtlSeconds: z.number().int(),
  idleTimeoutSeconds: z.number().int(),
  refreshTokenTtlSeconds: z.number().int(),
  messaging: z.object({
    maxGroupMembers: z.number().int(),
    maxMessageBytes: z.number().int(),
    maxAttachmentBytes: z.number().int(),
    editWindowSeconds: z.number().int(),
    callPolicy: z.enum(['shared_dialog', 'tenant']),
  }),
  privacy: exportPrivacySettings,
  /** Who-read-what records (docs/compliance.md "Access log"); `preset`: on with the HIPAA audit preset. */
  accessLogging: z.enum(['on', 'off', 'preset']),
});
const settingsPatch = z
  .object({
    signupMode: z.enum(['open', 'invite_only', 'admin_created']).optional(),
    passwordPolicy: z.record(z.string(), z.unknown()).optional(),
    accessTokenTtlSeconds: z.number().int().min(60).max(86_400).optional(),
    idleTimeoutSeconds: z.number().int().min(60).max(86_400).optional(),
    refreshTokenTtlSeconds: z.number().int().min(3600).max(31_536_000).optional(),
    messaging: z
      .object({
        maxGroupMembers: z.number().int().min(2).max(100_000).optional(),
        maxMessageBytes: z.number().int().min(64).max(65_536).optional(),
        maxAttachmentBytes: z
          .number()
          .int()
          .min(1024)
          .max(4 * 1024 ** 3)
          .optional(),
        /** 0: no limit. */
        editWindowSeconds: z.number().int().min(0).max(31_536_000).optional(),
        callPolicy: z.enum(['shared_dialog', 'tenant']).optional(),
      })
      .strict()
      .optional(),
    privacy: exportPrivacySettingsPatch.optional(),
    accessLogging: z.enum(['on', 'off', 'preset']).optional(),
  })
  .strict();
const roleName = roleNameSchema;
const userParams = z.object({ userId: z.uuid() });

/** The fields a listed user shows an administrator: nothing else of the row (no phone, no profile). */
const presentUser = (user: ListedUser): UserPageBody['users'][number] => ({
  id: user.id,
  displayName: user.displayName,
  email: user.email,
  status: user.status,
  roles: user.roles,
  createdAt: user.createdAt,
});

/** Who the audit entry names: the user, staff under a support grant, or the tenant's server (client_credentials). */
const auditActor = (principal: Principal): AuditInput['actor'] => {
  // Operator staff under a support grant (compliance/support-access/) are named as staff.
  if (principal.supportGrant)
    return { type: 'staff', id: principal.supportGrant.staffId, sessionId: principal.sessionId };
  return principal.userId === null
    ? { type: 'client', id: principal.clientId ?? undefined, sessionId: principal.sessionId }
    : { type: 'user', id: principal.userId, sessionId: principal.sessionId };
};

/** Tenant administration: users, roles, API clients, security settings. */
export function adminRoutes(deps: {
  users: UserService;
  accounts: AccountService;
  userAdmin: UserAdminService;
  tenantSettings: TenantSettingsService;
  clients: ClientService;
}): RouteDeclaration[] {
  const actorOf = (principal: ReturnType<typeof principalOf>) => {
    if (principal.userId === null)
      throw new AppError('forbidden', 'This endpoint is for users, not API clients.');
    return {
      userId: principal.userId,
      sessionId: principal.sessionId,
      roles: principal.roles,
      permissions: principal.permissions,
    };
  };
  return [
    {
      method: 'POST',
      url: '/v1/users',
      operationId: 'createUser',
      summary: 'Create a user with an initial password and roles.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.manage' },
      schema: {
        body: z
          .object({
            displayName: z.string().trim().min(1).max(200),
            email: z.email().max(320),
            password: z.string().min(1).max(16_384),
            roles: z.array(roleName).min(1).max(20).default(['member']),
          })
          .strict(),
        response: { 201: z.object({ userId: z.string() }) },
      },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const body = request.body as {
          displayName: string;
          email: string;
          password: string;
          roles: string[];
        };
        // A tenant's own server (client_credentials) provisions users too; it can never make owners.
        const actor = {
          audit: auditActor(principal),
          isOwner: principal.roles.includes('owner'),
          permissions: principal.permissions,
        };
        const userId = await deps.userAdmin.createUser(
          principal.tenantId,
          actor,
          body,
          body.roles,
          requestContext(request),
        );
        return reply.code(201).send({ userId });
      },
    },
    {
      method: 'GET',
      url: '/v1/users',
      operationId: 'listUsers',
      summary:
        'Look a user up by exact e-mail address (through the blind index; no partial match). Listing the whole directory is GET /v1/tenant/users.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.read' },
      schema: { querystring: lookUpUserQuery, response: { 200: userPage } },
      handler: async (request) => {
        const { email } = request.query as { email: string };
        // Through the blind index: the address itself is never queried in the clear.
        const user = await deps.users.findListedByEmail(principalOf(request).tenantId, email);
        return { users: user ? [presentUser(user)] : [] };
      },
    },
    {
      method: 'GET',
      url: '/v1/tenant/users',
      operationId: 'listTenantUsers',
      summary:
        'The tenant’s users, a page at a time (oldest first; by status or role), with names and e-mail addresses: the directory, for administrators and compliance officers (users.list).',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.list' },
      schema: { querystring: listUsersQuery, response: { 200: userPage } },
      handler: async (request) => {
        const page = await deps.users.listUsers(
          principalOf(request).tenantId,
          request.query as ListUsersQuery,
        );
        return {
          users: page.users.map(presentUser),
          ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
        };
      },
    },
    {
      method: 'PATCH',
      url: '/v1/users/:userId',
      operationId: 'setUserStatus',
      summary: 'Deactivate (signs out every device) or reactivate a user.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.manage' },
      schema: { params: userParams, body: z.object({ status: z.enum(['active', 'deactivated']) }).strict() },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { userId } = userParams.parse(request.params);
        const { status } = request.body as { status: 'active' | 'deactivated' };
        await deps.accounts.setStatus(
          principal.tenantId,
          userId,
          status,
          auditActor(principal),
          requestContext(request),
          principal.roles.includes('owner'),
        );
        return reply.code(204).send();
      },
    },
    {
      method: 'POST',
      url: '/v1/invites',
      operationId: 'createInvite',
      summary: 'Invite one e-mail address (invite-only tenants); the token is shown once.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'users.manage' },
      schema: {
        body: z
          .object({ email: z.email().max(320), roles: z.array(roleName).min(1).max(20).default(['member']) })
          .strict(),
        response: { 201: z.object({ inviteToken: z.string(), expiresAt: z.string() }) },
      },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const body = request.body as { email: string; roles: string[] };
        const invite = await deps.userAdmin.invite(
          principal.tenantId,
          {
            audit: auditActor(principal),
            isOwner: principal.roles.includes('owner'),
            permissions: principal.permissions,
          },
          body.email,
          body.roles,
          requestContext(request),
        );
        return reply.code(201).send(invite);
      },
    },
    {
      method: 'PUT',
      url: '/v1/users/:userId/roles',
      operationId: 'setUserRoles',
      summary: 'Replace a user’s roles.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'roles.manage' },
      schema: { params: userParams, body: z.object({ roles: z.array(roleName).max(20) }).strict() },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { userId } = userParams.parse(request.params);
        const { roles } = request.body as { roles: string[] };
        await deps.userAdmin.setRoles(
          principal.tenantId,
          actorOf(principal),
          userId,
          roles,
          requestContext(request),
        );
        return reply.code(204).send();
      },
    },
    {
      method: 'PUT',
      url: '/v1/roles/:name',
      operationId: 'defineRole',
      summary: 'Define a custom role as a set of permissions.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'roles.manage' },
      schema: {
        params: z.object({ name: roleName }),
        body: z.object({ permissions: z.array(z.enum(permissions)).max(permissions.length) }).strict(),
      },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const { name } = request.params as { name: string };
        const body = request.body as { permissions: (typeof permissions)[number][] };
        await deps.userAdmin.defineRole(
          principal.tenantId,
          actorOf(principal),
          name,
          body.permissions,
          requestContext(request),
        );
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: '/v1/tenant/settings',
      operationId: 'getTenantSettings',
      summary: 'Signup mode, password policy and token lifetimes of the caller’s tenant.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'tenant.read' },
      schema: { response: { 200: settingsBody } },
      handler: (request) => deps.tenantSettings.get(principalOf(request).tenantId),
    },
    {
      method: 'PATCH',
      url: '/v1/tenant/settings',
      operationId: 'updateTenantSettings',
      summary: 'Change the signup mode, password policy (partial) or token lifetimes.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'tenant.manage' },
      schema: { body: settingsPatch, response: { 200: settingsBody } },
      handler: (request) => {
        const principal = principalOf(request);
        return deps.tenantSettings.update(
          principal.tenantId,
          actorOf(principal),
          settingsPatch.parse(request.body),
          requestContext(request),
        );
      },
    },
    {
      method: 'POST',
      url: '/v1/clients',
      operationId: 'createClient',
      summary:
        'Create an OAuth client for the tenant’s own servers (client_credentials); the secret is shown once.',
      tags: ['admin'],
      access: { kind: 'authenticated', scope: 'admin', permission: 'clients.manage' },
      schema: {
        body: z
          .object({ name: z.string().trim().min(1).max(200), scopes: z.array(z.enum(scopes)).min(1) })
          .strict(),
        response: { 201: z.object({ clientId: z.string(), clientSecret: z.string() }) },
      },
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const body = request.body as { name: string; scopes: (typeof scopes)[number][] };
        const created = await deps.clients.createClient(
          principal.tenantId,
          body.name,
          body.scopes,
          actorOf(principal),
          requestContext(request),
        );
        return reply.code(201).send(created);
      },
    },
  ];
}
