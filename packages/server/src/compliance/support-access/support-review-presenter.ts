import type { SupportReviewRow, SupportReviewState } from './support-review-service.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A signed review as the API shows it: an explicit field list. */
export function presentSupportReview(row: SupportReviewRow) {
  return {
    id: row.id,
    since: new Date(row.window_from).toISOString(),
    until: new Date(row.window_to).toISOString(),
    reportHash: row.report_hash,
    grants: row.grants,
    accesses: row.accesses,
    signedBy: row.signed_by,
    signedAt: new Date(row.signed_at).toISOString(),
  };
}

export function presentSupportReviewStatus(state: SupportReviewState) {
  return {
    periodDays: state.periodDays,
    overdue: state.overdue,
    coveredUntil: state.coveredUntil,
    lastSignedAt: iso(state.lastSignedAt),
    dueAt: iso(state.dueAt),
  };
}

/** The report as text, for a person reading it in a terminal (`parley support review --format text`). */
export function supportReviewText(report: {
  since: string;
  until: string;
  reportHash: string;
  totals: { grants: number; accesses: number; deniedAccesses: number };
  grants: {
    grantId: string;
    tenantId: string;
    requestedBy: { staffId: string; email: string | null };
    reason: string;
    scope: string;
    dialogIds: string[] | null;
    durationHours: number;
    status: string;
    requestedAt: string;
    decidedBy: string | null;
    decision: string | null;
    decidedAt: string | null;
    expiresAt: string | null;
    revokedBy: string | null;
    revokedAt: string | null;
    accesses: {
      occurredAt: string;
      operation: string;
      method: string;
      path: string;
      outcome: string;
      refusal: string | null;
    }[];
  }[];
}): string {
  const lines = [
    `Support access review ${report.since} .. ${report.until}`,
    `Grants: ${report.totals.grants}; accesses: ${report.totals.accesses} (${report.totals.deniedAccesses} refused)`,
    `Report hash (sign this): ${report.reportHash}`,
  ];
  for (const grant of report.grants) {
    lines.push(
      '',
      `Grant ${grant.grantId} — tenant ${grant.tenantId}`,
      `  requested ${grant.requestedAt} by staff ${grant.requestedBy.staffId}${grant.requestedBy.email ? ` <${grant.requestedBy.email}>` : ''}`,
      `  reason: ${grant.reason}`,
      `  scope: ${grant.scope}${grant.dialogIds ? ` (dialogs ${grant.dialogIds.join(', ')})` : ''}; ${grant.durationHours} h; status ${grant.status}`,
      grant.decision === null
        ? '  not decided'
        : `  ${grant.decision} ${grant.decidedAt ?? ''} by user ${grant.decidedBy ?? '?'}${grant.expiresAt ? `; expires ${grant.expiresAt}` : ''}`,
    );
    if (grant.revokedAt !== null)
      lines.push(`  revoked ${grant.revokedAt} by user ${grant.revokedBy ?? '?'}`);
    lines.push(`  accesses: ${grant.accesses.length}`);
    for (const access of grant.accesses)
      lines.push(
        `    ${access.occurredAt} ${access.method} ${access.path} (${access.operation}) ${access.outcome}${access.refusal ? ` ${access.refusal}` : ''}`,
      );
  }
  return `${lines.join('\n')}\n`;
}
