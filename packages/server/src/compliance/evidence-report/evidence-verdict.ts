import type { ComplianceControl, ControlStatus, EvidenceValue } from '@parley/protocol';
import { type ControlId, controlDefinition } from './evidence-controls.ts';

export const DAY_MS = 86_400_000;

/** An ISO time, or null for "never". */
export const isoOrNull = (at: number | null | undefined): string | null =>
  at === null || at === undefined ? null : new Date(at).toISOString();

/** Whole days from `at` to `now`. */
export const ageDays = (at: number, now: number): number => Math.floor((now - at) / DAY_MS);

/**
 * Collects what a control found: each finding raises the status to at least its level, so the worst one
 * decides and every one is shown.
 */
export class Verdict {
  #status: ControlStatus = 'met';
  readonly findings: string[] = [];

  attention(finding: string): void {
    if (this.#status === 'met') this.#status = 'attention';
    this.findings.push(finding);
  }

  notMet(finding: string): void {
    this.#status = 'not_met';
    this.findings.push(finding);
  }

  get status(): ControlStatus {
    return this.#status;
  }
}

/** The control as reported: its definition, the verdict and the evidence. */
export function controlOf(
  id: ControlId,
  verdict: Verdict,
  evidence: Record<string, EvidenceValue>,
): ComplianceControl {
  const definition = controlDefinition(id);
  return {
    id,
    title: definition.title,
    promise: definition.promise,
    hipaa: [...definition.hipaa],
    gdpr: [...definition.gdpr],
    scope: definition.scope,
    status: verdict.status,
    findings: [...verdict.findings],
    evidence,
  };
}

const rank: Record<ControlStatus, number> = { met: 0, attention: 1, not_met: 2 };

/** The worst of the statuses (`met` for none). */
export const worstOf = (statuses: readonly ControlStatus[]): ControlStatus =>
  statuses.reduce<ControlStatus>((worst, status) => (rank[status] > rank[worst] ? status : worst), 'met');
