import type { Clock } from '../../clock.ts';
import type { Storage } from '../../storage/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { createAccessLogService } from './access-log-service.ts';
import { verifyAccessLog } from './access-log-verifier.ts';
import { AccessRecorder } from './access-recorder.ts';

export { accessLogRoutes } from './access-log-routes.ts';
export { createAccessLogRetentionTask } from './access-log-retention-task.ts';
export type { AccessLogService, AccessRecordView } from './access-log-service.ts';
export type { AccessLogVerification } from './access-log-verifier.ts';
export { readerOf, seqRanges, type AccessReader } from './access-record.ts';
export { AccessRecorder } from './access-recorder.ts';

/**
 * Who read what (docs/compliance.md "Access log"): the node's recorder (reads gathered in memory, flushed in
 * chained batches), the service that writes and answers questions, and the verifier.
 */
export function createAccessLog(deps: {
  storage: Storage;
  audit: AuditLog;
  clock: Clock;
  /** Whether a tenant records reads: its `accessLogging` setting, or the HIPAA audit preset. */
  isEnabled: (tenantId: string) => Promise<boolean>;
  onFlushError: (error: unknown, tenantId: string, dropped: number) => void;
  intervalMs?: number | undefined;
}) {
  const service = createAccessLogService({ storage: deps.storage, audit: deps.audit });
  const recorder = new AccessRecorder({
    clock: deps.clock,
    isEnabled: deps.isEnabled,
    writeBatch: service.writeBatch,
    onError: deps.onFlushError,
    intervalMs: deps.intervalMs,
  });
  return {
    service,
    recorder,
    verify: (tenantId: string) => verifyAccessLog(deps.storage, deps.audit, tenantId),
  };
}

export type AccessLog = ReturnType<typeof createAccessLog>;
