import type { ScheduledTask } from '../../jobs/index.ts';
import type { IncidentService } from './incident-service.ts';

/**
 * The clock reminders of open incidents, every 15 minutes once cluster-wide (docs/jobs.md): each clock not met
 * gets a `due_soon` reminder in its last quarter and an `overdue` one past it, once each, in the platform
 * audit chain (`incident.clock_reminders`) and e-mailed to the security officers.
 */
export function createIncidentReminderTask(incidents: Pick<IncidentService, 'remind'>): ScheduledTask {
  return {
    name: 'incident.clock_reminders',
    cron: '*/15 * * * *',
    async run() {
      await incidents.remind();
    },
  };
}
