import type { Redis } from 'ioredis';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { BackgroundJobs } from '../jobs/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { Storage } from '../storage/database.ts';
import { auditCheckpointCondition, dsrDeadlineConditions, keyAgeCondition } from './cluster-conditions.ts';
import { alertChannels, createAlerting } from './index.ts';
import {
  auditChainCondition,
  certificateCondition,
  databaseCondition,
  eventLoopLagCondition,
  redisCondition,
} from './node-conditions.ts';

export type { Alerting } from './index.ts';

/**
 * The alerting of one node with the built-in conditions, as `config` sets them; registers the cluster task
 * with the scheduler (before the jobs start). Answers the alerting and the audit chain condition, which
 * the audit checkpoint timer feeds.
 */
export function buildAlerting(deps: {
  config: Config;
  storage: Storage;
  redis: Redis | undefined;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  /** The certificate this node serves, when it terminates TLS itself. */
  tls: { certFile: string } | undefined;
  jobs: BackgroundJobs;
}) {
  const { config, storage, redis, clock, logger, tls, jobs } = deps;
  const settings = {
    emails: config.alertEmail,
    smtpUrl: config.smtpUrl,
    mailFrom: config.mailFrom,
    webhookUrl: config.alertWebhookUrl,
    webhookSecret: config.alertWebhookSecret,
    clusterCron: config.alertCron,
    nodeIntervalMs: config.alertNodeIntervalSeconds * 1000,
    repeatMs: config.alertRepeatSeconds * 1000,
  };
  // A node's alerts are keyed by its name: PARLEY_NODE_ID, or on SQLite (one process) `local`, so that a
  // restart finds its own alerts again. A generated name is new at each start.
  const nodeId = config.nodeId ?? (storage.dialect === 'sqlite' ? 'local' : deps.nodeId);
  const alerting = createAlerting({
    storage,
    clock,
    logger,
    nodeId,
    channels: alertChannels(settings, clock),
    settings,
  });
  const auditChains = auditChainCondition();
  alerting.register(databaseCondition(() => storage.ping()));
  if (redis) alerting.register(redisCondition(() => redis.ping()));
  if (tls) alerting.register(certificateCondition(tls.certFile, config.alertCertificateDays));
  alerting.register(eventLoopLagCondition(config.alertEventLoopLagMs));
  alerting.register(auditChains);
  for (const condition of dsrDeadlineConditions(storage, config.alertDsrDays)) alerting.register(condition);
  alerting.register(keyAgeCondition(storage, config.keyRotationDays));
  if (config.auditCheckpointIntervalSeconds > 0)
    alerting.register(auditCheckpointCondition(storage, config.auditCheckpointIntervalSeconds));
  // Backups register theirs (backup_failed, backup_stale) in backup/index.ts, through `alerting.register(…)`.
  jobs.scheduler.register(alerting.clusterTask());
  return { alerting, auditChains };
}
