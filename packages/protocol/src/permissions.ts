/**
 * Permissions checked by role-based access control. Roles map to sets of these; routes and frames
 * declare the one they need.
 */
export const permissions = ['tenant.read', 'tenant.manage', 'users.manage', 'audit.read'] as const;
export type Permission = (typeof permissions)[number];
