import type { Permission, SupportScope } from '@parley/protocol';

/**
 * The one table of what each support scope reaches: the operations (by operationId) a staff member may call
 * under a grant of that scope, and the permissions the grant's principal holds there. Everything else in the
 * tenant answers `support_scope_exceeded`. A new operation support should reach adds a row here, nowhere else.
 */
export const supportScopeOperations: Record<SupportScope, ReadonlySet<string>> = {
  // Read-only account metadata: look a user up by exact address, read the tenant's settings.
  metadata: new Set(['listUsers', 'getTenantSettings']),
  // Metadata, and user administration: deactivate or reactivate an account.
  user_admin: new Set(['listUsers', 'getTenantSettings', 'setUserStatus']),
};

export const supportScopePermissions: Record<SupportScope, readonly Permission[]> = {
  metadata: ['users.read', 'tenant.read'],
  user_admin: ['users.read', 'tenant.read', 'users.manage'],
};

/** Scopes from narrowest to widest: an approval may pick the requested scope or one before it, never after. */
export const supportScopeOrder: readonly SupportScope[] = ['metadata', 'user_admin'];
