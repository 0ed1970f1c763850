import type { ChangeRow, RiskRow } from './risk-service.ts';

const iso = (ms: number) => new Date(ms).toISOString();

export function presentRisk(row: RiskRow, now: number) {
  return {
    id: row.id,
    asset: row.asset,
    threat: row.threat,
    likelihood: row.likelihood,
    impact: row.impact,
    score: row.likelihood * row.impact,
    controls: row.controls,
    owner: row.owner,
    status: row.status,
    nextReviewAt: iso(row.next_review_at),
    lastReviewedAt: row.last_reviewed_at === null ? null : iso(row.last_reviewed_at),
    reviewOverdue: row.status !== 'closed' && row.next_review_at < now,
  };
}

export function presentChange(row: ChangeRow) {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    major: row.major === 1,
    riskId: row.risk_id,
    assessment: row.assessment,
    status: row.status,
    createdAt: iso(row.created_at),
    doneAt: row.done_at === null ? null : iso(row.done_at),
  };
}

const csvColumns = [
  'id',
  'asset',
  'threat',
  'likelihood',
  'impact',
  'score',
  'controls',
  'owner',
  'status',
  'nextReviewAt',
  'lastReviewedAt',
  'reviewOverdue',
] as const;

/** RFC 4180: every field quoted, quotes doubled; a leading =, +, - or @ is prefixed with ' (no formula injection). */
function csvField(value: string | number | boolean | null): string {
  let text = value === null ? '' : String(value);
  if (/^[=+\-@]/.test(text)) text = `'${text}`;
  return `"${text.replaceAll('"', '""')}"`;
}

export function risksCsv(risks: ReturnType<typeof presentRisk>[]): string {
  const lines = [
    csvColumns.join(','),
    ...risks.map((risk) => csvColumns.map((column) => csvField(risk[column])).join(',')),
  ];
  return `${lines.join('\r\n')}\r\n`;
}
