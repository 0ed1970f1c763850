/**
 * The operator's risk register and change records (docs/compliance.md, "Registers"): yearly reviews, overdue
 * ones alerted, major changes done only with a linked risk assessment.
 */
export { createRiskService, type RiskService } from './risk-service.ts';
export { riskRoutes } from './risk-routes.ts';
export { riskReviewCondition } from './risk-review-condition.ts';
