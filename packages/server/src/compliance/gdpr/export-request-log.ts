import type { z } from 'zod';
import type { exportRequest } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { TenantTx } from '../../storage/database.ts';
import type { DsrAudited, DsrService } from './dsr-service.ts';

/**
 * What data exports need of data subject request tracking (GDPR Art. 12): each export is recorded as a
 * request of kind `export`, received when asked for, in progress while its archive is built, completed when
 * the archive is ready (or cancelled when it is deleted before). The `…In` calls join the caller's
 * transaction, so the record moves with the export.
 */
export interface ExportRequestLog {
  /** Records a new export request; resolves with its id. */
  openIn(
    tx: TenantTx,
    tenantId: string,
    request: { subjectId: string; requestedBy: string; source: 'subject' | 'admin' },
    audited: DsrAudited,
  ): Promise<string>;
  startIn(tx: TenantTx, tenantId: string, requestId: string): Promise<void>;
  closeIn(
    tx: TenantTx,
    tenantId: string,
    requestId: string,
    status: 'completed' | 'cancelled',
    outcome: string,
  ): Promise<void>;
  /** Every request about the subject, for their archive. */
  listFor(tenantId: string, subjectId: string): Promise<z.infer<typeof exportRequest>[]>;
}

/** The server acting on a request on its own (the export job). */
const bySystem: DsrAudited = { actor: { type: 'system' }, context: {} };

/**
 * Export requests in the data subject request register (dsr-service.ts). A request an administrator closed
 * by hand meanwhile stays as they left it: the export goes on, but does not reopen or re-close it.
 */
export function dsrExportRequests(dsr: DsrService): ExportRequestLog {
  const unlessClosed = async (work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'request_closed')) throw error;
    }
  };
  return {
    async openIn(tx, tenantId, request, audited) {
      const row = await dsr.createIn(tx, tenantId, { kind: 'export', ...request }, audited);
      return row.id;
    },
    startIn: (tx, tenantId, requestId) =>
      unlessClosed(() => dsr.transitionIn(tx, tenantId, requestId, { status: 'in_progress' }, bySystem)),
    closeIn: (tx, tenantId, requestId, status, outcome) =>
      unlessClosed(() => dsr.transitionIn(tx, tenantId, requestId, { status, outcome }, bySystem)),
    async listFor(tenantId, subjectId) {
      const requests = await dsr.listOwn(tenantId, subjectId);
      return requests.map((request) => ({
        id: request.id,
        kind: request.kind,
        status: request.status,
        note: request.note,
        receivedAt: request.receivedAt,
        dueAt: request.dueAt,
        closedAt: request.closedAt,
        outcome: request.outcome,
      }));
    },
  };
}
