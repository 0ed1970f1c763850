import { type BuiltInRole, type Permission, permissions } from '@parley/protocol';

const self: Permission[] = ['profile.read', 'profile.update', 'sessions.manage'];
const chat: Permission[] = ['users.read', 'dialogs.read', 'dialogs.write', 'messages.send', 'calls.make'];

/**
 * The built-in permission matrix (mirrored in docs/access-control.md, kept equal by a test). Tenants add
 * custom roles as named sets of these permissions.
 */
export const builtInRolePermissions: Record<BuiltInRole, readonly Permission[]> = {
  owner: permissions,
  // A data export holds a person's whole correspondence: it is the owner's and the compliance officer's.
  admin: permissions.filter(
    (permission) => permission !== 'tenant.manage' && permission !== 'privacy.export',
  ),
  compliance_officer: [
    ...self,
    'users.read',
    'users.list',
    'audit.read',
    'tenant.read',
    'privacy.requests.manage',
    'privacy.export',
    'consent.manage',
    'retention.manage',
    'legal_holds.manage',
    'compliance.report',
  ],
  support_agent: [...self, 'users.read', 'users.list', 'tenant.read'],
  member: [...self, ...chat],
  guest: [...self, 'dialogs.read', 'messages.send'],
};

export function isBuiltInRole(role: string): role is BuiltInRole {
  return role in builtInRolePermissions;
}

/** The union of the permissions of `roles`; unknown custom roles contribute what `customRoles` says. */
export function permissionsOf(
  roles: readonly string[],
  customRoles: ReadonlyMap<string, readonly Permission[]>,
): Set<Permission> {
  const granted = new Set<Permission>();
  for (const role of roles) {
    const list = isBuiltInRole(role) ? builtInRolePermissions[role] : (customRoles.get(role) ?? []);
    for (const permission of list) granted.add(permission);
  }
  return granted;
}
