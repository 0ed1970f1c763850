import type { IncidentActionRow, IncidentRow, IncidentTenantRow } from './incident-store.ts';
import { clocksOf } from './incident-clocks.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** An incident as the security officer sees it: an explicit field list. */
export function presentIncident(row: IncidentRow, actions: IncidentActionRow[], now: number) {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    severity: row.severity,
    status: row.status,
    awareAt: iso(row.aware_at),
    dataCategories: JSON.parse(row.data_categories) as string[],
    general: row.general === 1,
    publicSummary: row.public_summary,
    clocks: clocksOf(row, now).map((state) => ({
      clock: state.clock,
      deadline: iso(state.deadline),
      metAt: isoOrNull(state.metAt),
      overdue: state.overdue,
      delayReason: state.delayReason,
    })),
    actions: actions.map((action) => ({
      id: action.id,
      description: action.description,
      dueAt: isoOrNull(action.due_at),
      doneAt: isoOrNull(action.done_at),
    })),
    rcaAttached: row.rca_attached_at !== null,
    closedAt: isoOrNull(row.closed_at),
    createdAt: iso(row.created_at),
  };
}

export function presentAffectedTenant(row: IncidentTenantRow) {
  return {
    tenantId: row.tenant_id,
    userIds: JSON.parse(row.user_ids) as string[],
    recordKinds: JSON.parse(row.record_kinds) as string[],
    entries: row.entries,
    notifiedAt: isoOrNull(row.notified_at),
    rcaRequestedAt: isoOrNull(row.rca_requested_at),
  };
}

export function presentScope(rows: IncidentTenantRow[]) {
  const tenants = rows.map(presentAffectedTenant);
  return {
    tenants,
    users: tenants.reduce((sum, tenant) => sum + tenant.userIds.length, 0),
    recordKinds: [...new Set(tenants.flatMap((tenant) => tenant.recordKinds))].sort(),
  };
}

/** An incident as an affected tenant sees it: its own share, never another tenant's. */
export function presentTenantIncident(row: {
  id: string;
  title: string;
  severity: IncidentRow['severity'];
  status: IncidentRow['status'];
  awareAt: number;
  dataCategories: string;
  rcaAttachedAt: number | null;
  userIds: string;
  recordKinds: string;
  notifiedAt: number | null;
  rcaRequestedAt: number | null;
}) {
  return {
    id: row.id,
    title: row.title,
    severity: row.severity,
    status: row.status,
    awareAt: iso(row.awareAt),
    dataCategories: JSON.parse(row.dataCategories) as string[],
    affectedUsers: (JSON.parse(row.userIds) as string[]).length,
    recordKinds: JSON.parse(row.recordKinds) as string[],
    notifiedAt: isoOrNull(row.notifiedAt),
    rcaAvailable: row.rcaAttachedAt !== null,
    rcaRequestedAt: isoOrNull(row.rcaRequestedAt),
  };
}

/** A public feed entry: title, public summary, severity, status, times. Nothing else leaves. */
export function presentPublicIncident(row: IncidentRow) {
  return {
    id: row.id,
    title: row.title,
    summary: row.public_summary ?? '',
    severity: row.severity,
    status: row.status,
    startedAt: iso(row.aware_at),
    updatedAt: iso(row.updated_at),
  };
}
