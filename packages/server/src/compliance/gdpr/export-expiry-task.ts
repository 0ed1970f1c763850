import type { ScheduledTask } from '../../jobs/index.ts';
import type { ExportService } from './export-service.ts';

/** Exports handled per sweep transaction batch. */
const BATCH = 100;

/**
 * Every five minutes, once cluster-wide: destroys the export archives past their expiry (parts, chunks and
 * key deleted, the export marked `destroyed`, an audit entry each), and marks failed the exports whose job
 * ended without finishing them. A download between expiry and the sweep is refused already.
 */
export function createExportExpiryTask(exports: Pick<ExportService, 'sweep'>): ScheduledTask {
  return {
    name: 'gdpr.export-expiry',
    cron: '*/5 * * * *',
    async run({ signal }) {
      for (;;) {
        signal.throwIfAborted();
        const { expired, failed } = await exports.sweep(BATCH);
        if (expired < BATCH && failed < BATCH) return;
      }
    },
  };
}
