import type { AlertSeverity } from './alert-condition.ts';

/**
 * What an operator is told, by e-mail and by webhook alike. It names the condition, ids and times only: the
 * server never puts a person's name or address, message content, a key or a token into a notice.
 */
export interface AlertNotice {
  /** Stable for one firing of one alert and its resolution (`<key>/<started at>`): receivers dedupe on it. */
  id: string;
  status: 'firing' | 'resolved';
  /** True for a reminder of an alert still firing after the repeat interval. */
  repeat: boolean;
  key: string;
  condition: string;
  severity: AlertSeverity;
  /** The node a per-node condition was seen on; null for a cluster-wide one. */
  node: string | null;
  summary: string;
  startsAt: string;
  /** Set on a resolved notice. */
  endsAt: string | null;
}

/** A way to reach operators. `deliver` resolves once the notice was accepted, and rejects otherwise. */
export interface AlertChannel {
  readonly name: string;
  deliver(notice: AlertNotice): Promise<void>;
}

export function noticeSubject(notice: AlertNotice): string {
  const state = notice.status === 'resolved' ? 'RESOLVED' : notice.repeat ? 'STILL FIRING' : 'FIRING';
  const where = notice.node === null ? '' : ` on ${notice.node}`;
  return `[Parley] ${state} ${notice.severity}: ${notice.condition}${where}`;
}

export function noticeText(notice: AlertNotice): string {
  return [
    notice.summary,
    '',
    `Alert:     ${notice.key}`,
    `Status:    ${notice.status}${notice.repeat ? ' (reminder)' : ''}`,
    `Severity:  ${notice.severity}`,
    `Node:      ${notice.node ?? 'cluster-wide'}`,
    `Since:     ${notice.startsAt}`,
    ...(notice.endsAt === null ? [] : [`Resolved:  ${notice.endsAt}`]),
    '',
    'See docs/monitoring.md, "Alerts without Prometheus", for what each alert means and what to do.',
    '',
  ].join('\n');
}
