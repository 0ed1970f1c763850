/**
 * Permissions checked by role-based access control. Roles map to sets of these (see
 * `docs/access-control.md`); every route and frame declares the one it needs.
 */
export const permissions = [
  'profile.read',
  'profile.update',
  'sessions.manage',
  'users.read',
  /**
   * List the tenant's whole directory with names and e-mail addresses (`GET /v1/tenant/users`); `users.read`
   * alone finds one user by exact address.
   */
  'users.list',
  'users.manage',
  'roles.manage',
  'mfa.reset',
  'tenant.read',
  'tenant.manage',
  'clients.manage',
  'audit.read',
  'consent.manage',
  'dialogs.read',
  'dialogs.write',
  'messages.send',
  'broadcast.post',
  'calls.make',
  'privacy.requests.manage',
  'privacy.export',
  'users.restrict',
  'users.erase',
  'retention.manage',
  'legal_holds.manage',
  /** See, approve, refuse and revoke operator support access, and forbid it (docs/security.md). */
  'support_access.manage',
  /** Read the signed compliance evidence report of the tenant (docs/compliance.md, "Evidence report"). */
  'compliance.report',
] as const;
export type Permission = (typeof permissions)[number];

export const builtInRoles = [
  'owner',
  'admin',
  'compliance_officer',
  'support_agent',
  'member',
  'guest',
] as const;
export type BuiltInRole = (typeof builtInRoles)[number];
