import type { Permission, Scope, SupportScope } from '@parley/protocol';

/**
 * The one table of what each support scope reaches: the operations (by operationId) a staff member may call
 * under a grant of that scope, the OAuth scope and permissions the grant's principal holds there, whether it
 * may write, and which scopes an approver may narrow it to. Everything else in the tenant answers
 * `support_scope_exceeded`. A new operation support should reach adds a row here, nowhere else.
 */
export interface SupportScopeRule {
  operations: ReadonlySet<string>;
  tokenScope: Scope;
  permissions: readonly Permission[];
  /** Whether requests other than GET are allowed: grants are read-only unless this says otherwise. */
  writes: boolean;
  /** The scopes an approval may choose instead of the requested one (itself first). */
  narrowsTo: readonly SupportScope[];
  /** The operation's path must name one of the grant's dialogs (`:dialogId`). */
  namedDialogsOnly: boolean;
}

export const supportScopeRules: Record<SupportScope, SupportScopeRule> = {
  // Read-only account metadata: look a user up by exact address, read the tenant's settings.
  metadata: {
    operations: new Set(['listUsers', 'getTenantSettings']),
    tokenScope: 'admin',
    permissions: ['users.read', 'tenant.read'],
    writes: false,
    narrowsTo: ['metadata'],
    namedDialogsOnly: false,
  },
  // Metadata, and user administration: deactivate or reactivate an account.
  user_admin: {
    operations: new Set(['listUsers', 'getTenantSettings', 'setUserStatus']),
    tokenScope: 'admin',
    permissions: ['users.read', 'tenant.read', 'users.manage'],
    writes: true,
    narrowsTo: ['user_admin', 'metadata'],
    namedDialogsOnly: false,
  },
  // The history of the dialogs the grant names, read-only.
  messages: {
    operations: new Set(['listMessages']),
    tokenScope: 'chat',
    permissions: ['dialogs.read'],
    writes: false,
    narrowsTo: ['messages'],
    namedDialogsOnly: true,
  },
};
