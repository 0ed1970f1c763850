import type { Logger } from '../observability/logger.ts';
import type { AlertCondition, AlertFinding, AlertSeverity } from './alert-condition.ts';
import type { AlertChannel, AlertNotice } from './alert-notice.ts';
import type { AlertStateRow } from './alert-state-store.ts';

interface Firing {
  key: string;
  condition: string;
  severity: AlertSeverity;
  summary: string;
}

/** `<condition>[:<subject>][@<node>]`: the alert's identity across evaluations, nodes and restarts. */
export function alertKey(condition: string, finding: AlertFinding, nodeId: string | null): string {
  const subject = finding.subject === undefined ? '' : `:${finding.subject}`;
  return `${condition}${subject}${nodeId === null ? '' : `@${nodeId}`}`;
}

/** Every condition's findings; conditions that threw are named in `failed` (their alerts are left alone). */
export async function evaluateConditions(
  conditions: readonly AlertCondition[],
  nodeId: string | null,
  now: number,
  logger: Logger,
): Promise<{ firing: Map<string, Firing>; failed: Set<string> }> {
  const firing = new Map<string, Firing>();
  const failed = new Set<string>();
  for (const condition of conditions) {
    try {
      for (const finding of await condition.evaluate(now)) {
        const key = alertKey(condition.name, finding, nodeId);
        firing.set(key, {
          key,
          condition: condition.name,
          severity: condition.severity,
          summary: finding.summary,
        });
      }
    } catch (error) {
      failed.add(condition.name);
      logger.error({ condition: condition.name, err: error }, 'alert condition could not be evaluated');
    }
  }
  return { firing, failed };
}

export interface Reconciliation {
  /** Rows whose state or notice bookkeeping changed: write them back. */
  changed: AlertStateRow[];
  sent: AlertNotice[];
}

/**
 * Compares what fires now with what was recorded, sends what is owed and answers the rows to write back:
 * - a new alert sends one firing notice; one still firing sends nothing until `repeatMs` after its last
 *   notice (0: never again);
 * - an alert no longer found resolves: its resolved notice goes out if a firing notice did;
 * - a notice that could not be delivered (any channel failed) is owed still and tried at the next
 *   evaluation, so delivery is at least once; receivers dedupe on the notice id.
 * Without channels nothing is owed: alerts are logged and recorded only.
 */
export async function reconcile(input: {
  rows: readonly AlertStateRow[];
  firing: ReadonlyMap<string, Firing>;
  failed: ReadonlySet<string>;
  nodeId: string | null;
  now: number;
  repeatMs: number;
  channels: readonly AlertChannel[];
  logger: Logger;
}): Promise<Reconciliation> {
  const { firing, failed, nodeId, now, repeatMs, channels, logger } = input;
  const rows = new Map(input.rows.map((row) => [row.key, row]));
  const changed: AlertStateRow[] = [];
  const sent: AlertNotice[] = [];

  const deliver = async (row: AlertStateRow, repeat: boolean): Promise<boolean> => {
    const notice: AlertNotice = {
      id: `${row.key}/${row.started_at}`,
      status: row.status,
      repeat,
      key: row.key,
      condition: row.condition,
      severity: row.severity as AlertSeverity,
      node: row.node_id,
      summary: row.summary,
      startsAt: new Date(row.started_at).toISOString(),
      endsAt: row.resolved_at === null ? null : new Date(row.resolved_at).toISOString(),
    };
    const log = { alert: row.key, condition: row.condition, severity: row.severity, status: row.status };
    if (row.status === 'firing') logger.warn(log, 'alert firing');
    else logger.info(log, 'alert resolved');
    const outcomes = await Promise.allSettled(channels.map((channel) => channel.deliver(notice)));
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'rejected')
        // The error only: a relay's message can quote the recipient.
        logger.error(
          { alert: row.key, channel: channels[index]?.name, errorName: (outcome.reason as Error).name },
          'alert notice not delivered; it will be tried again',
        );
    });
    const delivered = outcomes.every((outcome) => outcome.status === 'fulfilled');
    if (delivered) sent.push(notice);
    return delivered;
  };

  for (const alert of firing.values()) {
    const row = rows.get(alert.key);
    if (row === undefined || row.status === 'resolved') {
      const fresh: AlertStateRow = {
        key: alert.key,
        condition: alert.condition,
        node_id: nodeId,
        status: 'firing',
        severity: alert.severity,
        summary: alert.summary,
        started_at: now,
        last_notified_at: null,
        resolved_at: null,
        updated_at: now,
      };
      if (await deliver(fresh, false)) fresh.last_notified_at = now;
      changed.push(fresh);
      continue;
    }
    const owed = row.last_notified_at === null || (repeatMs > 0 && now - row.last_notified_at >= repeatMs);
    const next = { ...row, summary: alert.summary, severity: alert.severity, updated_at: now };
    if (owed && (await deliver(next, row.last_notified_at !== null))) next.last_notified_at = now;
    if (owed || next.summary !== row.summary) changed.push(next);
  }

  for (const row of rows.values()) {
    if (firing.has(row.key) || failed.has(row.condition)) continue;
    if (row.status === 'firing') {
      const resolved: AlertStateRow = { ...row, status: 'resolved', resolved_at: now, updated_at: now };
      // Never told it fired (no channel took the firing notice): nothing to resolve for the operator.
      if (row.last_notified_at !== null && (await deliver(resolved, false))) resolved.last_notified_at = now;
      else if (row.last_notified_at === null) resolved.last_notified_at = now;
      changed.push(resolved);
    } else if (row.resolved_at !== null && (row.last_notified_at ?? 0) < row.resolved_at) {
      // A resolved notice still owed from an earlier evaluation.
      if (await deliver(row, false)) changed.push({ ...row, last_notified_at: now, updated_at: now });
    }
  }
  return { changed, sent };
}
