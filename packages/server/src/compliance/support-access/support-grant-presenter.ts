import type { SupportScope } from '@parley/protocol';
import type { AuditEntryView } from '../audit/audit-log.ts';
import type { SupportGrantRow } from './support-grant-store.ts';
import { dialogIdsOf } from './support-grant-service.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A grant as the API shows it: an explicit field list. */
export function presentSupportGrant(row: SupportGrantRow) {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    staffId: row.staff_id,
    reason: row.reason,
    scope: row.scope as SupportScope,
    dialogIds: row.dialog_ids === null ? null : dialogIdsOf(row),
    durationHours: row.duration_hours,
    status: row.status,
    requestedAt: new Date(row.requested_at).toISOString(),
    decidedBy: row.decided_by,
    decidedAt: iso(row.decided_at),
    expiresAt: iso(row.expires_at),
    revokedAt: iso(row.revoked_at),
  };
}

/** One `support.accessed` audit entry as a line of "what was accessed under this grant". */
export function presentSupportAccess(entry: AuditEntryView) {
  const text = (key: string) => {
    const value = entry.details[key];
    return typeof value === 'string' ? value : '';
  };
  return {
    occurredAt: entry.occurredAt,
    staffId: entry.actor.id,
    operation: text('operation'),
    method: text('method'),
    path: text('path'),
    outcome: entry.outcome,
    refusal: text('refusal') || null,
    requestId: entry.requestId,
  };
}
