/**
 * Operator support access (docs/security.md, "Operator staff and support access"): the only way staff reach a
 * tenant's data is a grant the tenant approved, checked and recorded on every request.
 */
export { createSupportGrantService, type SupportGrantService } from './support-grant-service.ts';
export { supportGrantRoutes } from './support-grant-routes.ts';
export { supportRequestRoutes } from './support-request-routes.ts';
export { createSupportReviewService, type SupportReviewService } from './support-review-service.ts';
export { supportReviewRoutes } from './support-review-routes.ts';
export { supportReviewCondition } from './support-review-condition.ts';
