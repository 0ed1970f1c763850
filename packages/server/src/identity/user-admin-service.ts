import { builtInRoles, type Permission, permissions } from '@parley/protocol';
import { permissionsOf } from '../access/roles.ts';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { AuditInput } from '../compliance/audit/audit-entry.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import type { RequestContext } from '../compliance/audit/request-context.ts';
import type { Storage } from '../storage/database.ts';
import type { AccountService, NewAccount } from './account-service.ts';
import type { Actor } from './profile-service.ts';
import type { SessionService } from './sessions/session-service.ts';
import { userStore } from './user-store.ts';

/** Administration of a tenant's users and roles (permissions users.manage and roles.manage). */
export function createUserAdminService(deps: {
  storage: Storage;
  accounts: AccountService;
  sessions: SessionService;
  audit: AuditLog;
  clock: Clock;
}) {
  const { storage, accounts, sessions, audit, clock } = deps;

  /**
   * Roles must exist, each once (a user holds a role or not: a repeat would break the user-roles key), and
   * may grant nothing the acting principal does not hold itself: otherwise an admin could define a role with
   * owner-only permissions and give it to themselves.
   */
  async function knownRoles(
    tenantId: string,
    roles: readonly string[],
    actorPermissions: ReadonlySet<Permission>,
  ): Promise<void> {
    if (new Set(roles).size !== roles.length)
      throw new AppError('validation_failed', 'Each role may be listed only once.');
    const custom = await storage.withTenant(tenantId, (tx) =>
      tx.selectFrom('roles').select(['name', 'permissions']).where('tenant_id', '=', tenantId).execute(),
    );
    const granted = permissionsOf(
      roles,
      new Map(custom.map((role) => [role.name, JSON.parse(role.permissions) as Permission[]])),
    );
    const beyond = [...granted].filter((permission) => !actorPermissions.has(permission));
    if (beyond.length > 0)
      throw new AppError('forbidden', `You cannot grant permissions you do not hold: ${beyond.join(', ')}.`);
    const known = new Set<string>([...builtInRoles, ...custom.map((role) => role.name)]);
    const unknown = roles.filter((role) => !known.has(role));
    if (unknown.length > 0)
      throw new AppError('validation_failed', `Unknown role(s): ${unknown.join(', ')}.`);
  }

  return {
    /** An admin creates an account (the `admin_created` signup mode). Owners can only be made by owners. */
    async createUser(
      tenantId: string,
      actor: { audit: AuditInput['actor']; isOwner: boolean; permissions: ReadonlySet<Permission> },
      account: NewAccount,
      roles: string[],
      context: RequestContext,
    ) {
      await knownRoles(tenantId, roles, actor.permissions);
      if (roles.includes('owner') && !actor.isOwner)
        throw new AppError('forbidden', 'Only owners can create owners.');
      return accounts.createAccount(tenantId, account, roles, actor.audit, context);
    },

    /** An invitation to join with the given roles (invite-only tenants); same limits as creating a user. */
    async invite(
      tenantId: string,
      actor: { audit: AuditInput['actor']; isOwner: boolean; permissions: ReadonlySet<Permission> },
      email: string,
      roles: string[],
      context: RequestContext,
    ) {
      await knownRoles(tenantId, roles, actor.permissions);
      if (roles.includes('owner') && !actor.isOwner)
        throw new AppError('forbidden', 'Only owners can invite owners.');
      return accounts.invite(tenantId, email, roles, actor.audit, context);
    },

    /** Replaces a user's roles. The user's cached permissions are dropped on every node at once. */
    async setRoles(
      tenantId: string,
      actor: Actor & { roles: readonly string[]; permissions: ReadonlySet<Permission> },
      userId: string,
      roles: string[],
      context: RequestContext,
    ) {
      await knownRoles(tenantId, roles, actor.permissions);
      await storage.withTenant(tenantId, async (tx) => {
        const target = await userStore.lockById(tx, tenantId, userId, storage.dialect);
        if (!target) throw new AppError('not_found');
        // Restricted processing (GDPR Art. 18) freezes the account as it is: its roles change only once the
        // restriction is lifted. Locked, so a restriction committing meanwhile is seen.
        if (target.status === 'restricted') throw new AppError('account_restricted');
        const before = await userStore.roles(tx, tenantId, userId);
        const touchesOwner = before.includes('owner') !== roles.includes('owner');
        if (touchesOwner && !actor.roles.includes('owner'))
          throw new AppError('forbidden', 'Only owners can grant or remove the owner role.');
        await tx
          .deleteFrom('user_roles')
          .where('tenant_id', '=', tenantId)
          .where('user_id', '=', userId)
          .execute();
        for (const role of roles)
          await tx.insertInto('user_roles').values({ tenant_id: tenantId, user_id: userId, role }).execute();
        await audit.append(tx, tenantId, {
          actor: { type: 'user', id: actor.userId, sessionId: actor.sessionId },
          action: 'user.roles_changed',
          target: { type: 'user', id: userId },
          outcome: 'success',
          ...context,
          details: { before: before.sort(), after: [...roles].sort() },
        });
      });
      await sessions.refreshPrincipalsOf(tenantId, userId);
    },

    /** The tenant's custom roles, by name. */
    async listRoles(tenantId: string): Promise<{ name: string; permissions: Permission[] }[]> {
      const rows = await storage.withTenant(tenantId, (tx) =>
        tx
          .selectFrom('roles')
          .select(['name', 'permissions'])
          .where('tenant_id', '=', tenantId)
          .orderBy('name')
          .execute(),
      );
      return rows.map((row) => ({
        name: row.name,
        permissions: JSON.parse(row.permissions) as Permission[],
      }));
    },

    /**
     * Ends one of a user's sessions (a lost laptop), audited with the acting admin. An owner's sessions only at
     * an owner's hand: an admin must not be able to sign the owners out of their own tenant.
     */
    async endUserSession(
      tenantId: string,
      actor: { audit: AuditInput['actor']; isOwner: boolean },
      userId: string,
      sessionId: string,
    ): Promise<void> {
      if (!actor.isOwner) {
        const roles = await storage.withTenant(tenantId, (tx) => userStore.roles(tx, tenantId, userId));
        if (roles.includes('owner'))
          throw new AppError('forbidden', 'Only owners can end an owner’s sessions.');
      }
      const revoked = await sessions.revokeUserSessions(tenantId, userId, {
        only: sessionId,
        reason: 'revoked_by_admin',
        actor: actor.audit,
      });
      if (revoked.length === 0) throw new AppError('not_found');
    },

    /** Deletes a custom role; refused (`conflict`) while a user holds it, `not_found` when there is none. */
    async deleteRole(tenantId: string, actor: Actor, name: string, context: RequestContext): Promise<void> {
      await storage.withTenant(tenantId, async (tx) => {
        const holder = await tx
          .selectFrom('user_roles')
          .select('user_id')
          .where('tenant_id', '=', tenantId)
          .where('role', '=', name)
          .executeTakeFirst();
        if (holder) throw new AppError('conflict', 'Users hold this role: give them other roles first.');
        const deleted = await tx
          .deleteFrom('roles')
          .where('tenant_id', '=', tenantId)
          .where('name', '=', name)
          .executeTakeFirst();
        if (deleted.numDeletedRows === 0n) throw new AppError('not_found');
        await audit.append(tx, tenantId, {
          actor: { type: 'user', id: actor.userId, sessionId: actor.sessionId },
          action: 'role.deleted',
          target: { type: 'role', id: name },
          outcome: 'success',
          ...context,
        });
      });
      await sessions.refreshTenantPrincipals(tenantId);
    },

    /** Defines or redefines a custom role; built-in names are reserved. */
    async defineRole(
      tenantId: string,
      actor: Actor & { permissions: ReadonlySet<Permission> },
      name: string,
      granted: Permission[],
      context: RequestContext,
    ) {
      const beyond = granted.filter((permission) => !actor.permissions.has(permission));
      if (beyond.length > 0)
        throw new AppError(
          'forbidden',
          `You cannot grant permissions you do not hold: ${beyond.join(', ')}.`,
        );
      if ((builtInRoles as readonly string[]).includes(name))
        throw new AppError('conflict', 'Built-in roles cannot be redefined.');
      const invalid = granted.filter(
        (permission) => !(permissions as readonly string[]).includes(permission),
      );
      if (invalid.length > 0)
        throw new AppError('validation_failed', `Unknown permission(s): ${invalid.join(', ')}.`);
      await storage.withTenant(tenantId, async (tx) => {
        await tx
          .insertInto('roles')
          .values({
            tenant_id: tenantId,
            name,
            permissions: JSON.stringify(granted),
            created_at: clock.now(),
          })
          .onConflict((conflict) =>
            conflict.columns(['tenant_id', 'name']).doUpdateSet({ permissions: JSON.stringify(granted) }),
          )
          .execute();
        await audit.append(tx, tenantId, {
          actor: { type: 'user', id: actor.userId, sessionId: actor.sessionId },
          action: 'role.defined',
          target: { type: 'role', id: name },
          outcome: 'success',
          ...context,
          details: { permissions: granted },
        });
      });
      await sessions.refreshTenantPrincipals(tenantId);
    },
  };
}

export type UserAdminService = ReturnType<typeof createUserAdminService>;
