/** How urgent an alert is; named in every notice. */
export type AlertSeverity = 'critical' | 'warning';

/**
 * Where a condition is evaluated: `cluster` conditions read the shared database and run on one node at a time
 * (a scheduled task under its lease); `node` conditions describe this process (its database connection, its
 * certificate, its event loop) and run on every node.
 */
export type AlertScope = 'cluster' | 'node';

/** One firing instance of a condition, e.g. one data subject request near its deadline. */
export interface AlertFinding {
  /** Tells instances of one condition apart (a request id, a tenant id, a key name); ids only. */
  subject?: string;
  /**
   * One sentence for the operator. It goes by e-mail and webhook to wherever the operator points them:
   * ids, times and counts only — never a name, an address, a message or a secret.
   */
  summary: string;
}

/**
 * A condition the server checks on a schedule (docs/monitoring.md). `evaluate` answers what fires now; an
 * empty list means resolved. A condition that throws is counted neither way: its alerts stay as they were,
 * and the failure is logged.
 *
 * New features add their own (the backup age of issue 15 arrives this way: `alerting.register(condition)`
 * before the server starts).
 */
export interface AlertCondition {
  /** lower_snake_case; names the alert in notices and in `alert_states`. */
  readonly name: string;
  readonly scope: AlertScope;
  readonly severity: AlertSeverity;
  evaluate(now: number): Promise<AlertFinding[]>;
}

export const ALERT_CONDITION_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** Resolves with `work`'s answer, or rejects once `ms` have passed (a hung dependency reads as down). */
export async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const DAY_MS = 24 * 3600 * 1000;
