import type { DataExportBody, DataExportProgress } from '@parley/protocol';
import type { ExportRow } from './export-store.ts';

const isoOrNull = (at: number | null) => (at === null ? null : new Date(at).toISOString());

/**
 * An export as the API shows it: an explicit field list (never the sealed key). `progress` comes from
 * export-progress.ts (null when unknown).
 */
export function presentExport(row: ExportRow, progress: DataExportProgress | null): DataExportBody {
  return {
    id: row.id,
    subjectId: row.subject_id,
    requestedBy: row.requested_by,
    source: row.source,
    requestId: row.request_id,
    status: row.status,
    othersMessages: row.others_messages,
    recordsWritten: row.records,
    progress,
    archiveBytes: row.status === 'ready' ? row.archive_bytes : null,
    createdAt: new Date(row.created_at).toISOString(),
    startedAt: isoOrNull(row.started_at),
    completedAt: isoOrNull(row.completed_at),
    expiresAt: isoOrNull(row.expires_at),
    destroyedAt: isoOrNull(row.destroyed_at),
    destroyedReason: row.destroyed_reason,
    errorCode: row.error_code,
    downloads: row.download_count,
  };
}
