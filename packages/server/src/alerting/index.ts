import type { Clock } from '../clock.ts';
import type { ScheduledTask } from '../jobs/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { Storage } from '../storage/database.ts';
import { ALERT_CONDITION_NAME, type AlertCondition } from './alert-condition.ts';
import { emailChannel, webhookChannel } from './alert-channels.ts';
import { evaluateConditions, reconcile, type Reconciliation } from './alert-evaluator.ts';
import type { AlertChannel } from './alert-notice.ts';
import { type AlertStateRow, alertStateStore } from './alert-state-store.ts';

export type { AlertCondition, AlertFinding } from './alert-condition.ts';
export type { AlertNotice } from './alert-notice.ts';
export { SIGNATURE_HEADER, verifyAlertSignature } from './alert-signature.ts';

export interface AlertingSettings {
  /** Operators' addresses; needs `smtpUrl`. */
  emails: readonly string[];
  smtpUrl: string | undefined;
  mailFrom: string;
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
  /** When the cluster-wide conditions are evaluated (cron, UTC). */
  clusterCron: string;
  /** How often this node evaluates its own conditions. */
  nodeIntervalMs: number;
  /** A still-firing alert is notified again this long after its last notice; 0 = once only. */
  repeatMs: number;
}

/** Operators' channels from the settings; throws (at start-up) on a combination that cannot deliver. */
export function alertChannels(settings: AlertingSettings, clock: Clock): AlertChannel[] {
  const channels: AlertChannel[] = [];
  if (settings.emails.length > 0) {
    if (settings.smtpUrl === undefined)
      throw new Error('PARLEY_ALERT_EMAIL needs PARLEY_SMTP_URL: operator alerts are not kept in the outbox');
    channels.push(emailChannel({ smtpUrl: settings.smtpUrl, from: settings.mailFrom, to: settings.emails }));
  }
  if (settings.webhookUrl !== undefined) {
    if (settings.webhookSecret === undefined)
      throw new Error('PARLEY_ALERT_WEBHOOK_URL needs PARLEY_ALERT_WEBHOOK_SECRET to sign its notices');
    channels.push(
      webhookChannel({ url: settings.webhookUrl, secret: settings.webhookSecret, now: () => clock.now() }),
    );
  }
  return channels;
}

/**
 * The embedded alerting of one node (docs/monitoring.md): cluster-wide conditions run as the scheduled task
 * `alerts.cluster` (one node at a time, under its lease), this node's conditions on a timer. Each alert's state
 * is kept in `alert_states`, so a restart neither repeats a notice nor forgets a resolution. A node's own
 * rows are also held in memory: while the database is away (itself an alert) notices still go out, and the
 * rows are written once it is back.
 */
export function createAlerting(deps: {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  /** Names this node's alerts; stable across restarts when `PARLEY_NODE_ID` is set (or on SQLite). */
  nodeId: string;
  channels: readonly AlertChannel[];
  settings: Pick<AlertingSettings, 'clusterCron' | 'nodeIntervalMs' | 'repeatMs'>;
}) {
  const { storage, clock, logger, nodeId, channels, settings } = deps;
  const conditions: AlertCondition[] = [];
  let nodeRows: Map<string, AlertStateRow> | undefined;
  const unsaved = new Map<string, AlertStateRow>();
  let nodePass: Promise<Reconciliation> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const closers: (() => void)[] = [];

  const inScope = (scope: AlertCondition['scope']) => conditions.filter((c) => c.scope === scope);

  async function evaluateCluster(
    fence?: Parameters<ScheduledTask['run']>[0]['fence'],
  ): Promise<Reconciliation> {
    const now = clock.now();
    const { firing, failed } = await evaluateConditions(inScope('cluster'), null, now, logger);
    const rows = await storage.withSystem((tx) => alertStateStore.read(tx, null));
    const result = await reconcile({
      rows,
      firing,
      failed,
      nodeId: null,
      now,
      repeatMs: settings.repeatMs,
      channels,
      logger,
    });
    await storage.withSystem(async (tx) => {
      await fence?.(tx);
      await alertStateStore.save(tx, result.changed);
    });
    return result;
  }

  async function evaluateNode(): Promise<Reconciliation> {
    const now = clock.now();
    const { firing, failed } = await evaluateConditions(inScope('node'), nodeId, now, logger);
    try {
      const stored = await storage.withSystem((tx) => alertStateStore.read(tx, nodeId));
      nodeRows = new Map(stored.map((row) => [row.key, row]));
    } catch {
      // The database is away: go on from what this process knows.
    }
    nodeRows ??= new Map();
    for (const row of unsaved.values()) nodeRows.set(row.key, row);
    const result = await reconcile({
      rows: [...nodeRows.values()],
      firing,
      failed,
      nodeId,
      now,
      repeatMs: settings.repeatMs,
      channels,
      logger,
    });
    for (const row of result.changed) {
      nodeRows.set(row.key, row);
      unsaved.set(row.key, row);
    }
    try {
      await storage.withSystem((tx) => alertStateStore.save(tx, [...unsaved.values()]));
      unsaved.clear();
    } catch {
      // Kept for the next pass.
    }
    return result;
  }

  return {
    /** Adds a condition; before `start`. */
    register(condition: AlertCondition & { close?(): void }): void {
      if (!ALERT_CONDITION_NAME.test(condition.name))
        throw new TypeError(`invalid alert condition name "${condition.name}"`);
      if (conditions.some((known) => known.name === condition.name))
        throw new TypeError(`alert condition "${condition.name}" is registered twice`);
      conditions.push(condition);
      if (condition.close) closers.push(() => condition.close?.());
    },

    /** The scheduled task that evaluates the cluster-wide conditions (register it with the scheduler). */
    clusterTask(): ScheduledTask {
      return {
        name: 'alerts.cluster',
        cron: settings.clusterCron,
        run: async (context) => {
          await evaluateCluster((tx) => context.fence(tx));
        },
      };
    },

    /** One evaluation of the cluster-wide conditions now (tests, and the task). */
    evaluateCluster: () => evaluateCluster(),

    /** One evaluation of this node's conditions now; a pass under way is joined. */
    evaluateNode(): Promise<Reconciliation> {
      nodePass ??= evaluateNode().finally(() => {
        nodePass = undefined;
      });
      return nodePass;
    },

    /** Evaluates this node's conditions every `nodeIntervalMs` until `stop`. */
    start(): void {
      if (timer !== undefined) return;
      timer = setInterval(() => {
        this.evaluateNode().catch((error: unknown) => {
          logger.error({ err: error }, 'alert evaluation failed');
        });
      }, settings.nodeIntervalMs);
      timer.unref();
    },

    async stop(): Promise<void> {
      clearInterval(timer);
      await nodePass?.catch(() => undefined);
      for (const close of closers) close();
    },
  };
}

export type Alerting = ReturnType<typeof createAlerting>;
