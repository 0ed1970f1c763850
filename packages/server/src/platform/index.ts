/**
 * Operator staff (docs/security.md, "Operator staff and support access"): accounts, roles, sessions and the
 * platform audit chain. Staff belong to no tenant and reach only `/v1/platform/…` routes.
 */
export { createStaffService, isStaffToken, type StaffPrincipal, type StaffService } from './staff-service.ts';
export { staffRoutes } from './staff-routes.ts';
export { platformHealthRoutes } from './platform-health-routes.ts';
