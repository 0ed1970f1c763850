/**
 * Incidents and breach notification (docs/incident-response.md): security officers open, scope, notify and
 * close incidents against the controller, GDPR Art. 33 and HIPAA clocks; tenants see their own share.
 */
export { createIncidentService, type IncidentService } from './incident-service.ts';
export { incidentRoutes } from './incident-routes.ts';
export { tenantIncidentRoutes } from './tenant-incident-routes.ts';
export { createIncidentReminderTask } from './incident-reminder-task.ts';
