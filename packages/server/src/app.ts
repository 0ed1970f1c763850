import { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { ensurePrivateDir } from './bootstrap/data-dir.ts';
import { ensureSelfSignedCertificate } from './bootstrap/self-signed-cert.ts';
import { type Clock, systemClock } from './clock.ts';
import { createKeyManagement } from './crypto/key-management.ts';
import { openSecurityCore, type SecurityCore } from './crypto/security-core.ts';
import type { Config } from './config.ts';
import { opsRoutes } from './http/ops-routes.ts';
import type { RouteDeclaration } from './http/route-table.ts';
import { securityHeaders } from './http/security-headers.ts';
import { createHttpServer } from './http/server.ts';
import { tls12Ciphers, type TlsFiles, tlsContextOptions } from './http/tls-options.ts';
import { type HealthCheck, keyFileCheck } from './observability/health.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { createMetrics, type ParleyMetrics } from './observability/metrics.ts';
import { type MetricsListener, startMetricsListener } from './observability/metrics-listener.ts';
import { registerMetricSources } from './observability/metrics-sources.ts';
import { meterHttp } from './observability/http-metrics-hook.ts';
import { traceHttp } from './observability/http-tracing-hook.ts';
import { startTracing } from './observability/tracing.ts';
import { AppError } from './app-error.ts';
import { nodeIdOf } from './observability/node-id.ts';
import { acquireDataDirLock, type DataDirLock } from './storage/data-dir-lock.ts';
import { autovacuumOff } from './storage/autovacuum.ts';
import { openStorage, type Storage } from './storage/database.ts';
import { migrateToLatest } from './storage/migrator.ts';
import type { TenantService } from './tenancy/tenant-service.ts';
import { type AppServices, buildServices } from './app-services.ts';
import { auditRoutes } from './compliance/audit/audit-routes.ts';
import { accessLogRoutes, createAccessLogRetentionTask } from './compliance/access-log/index.ts';
import { createAuditCheckpointJob } from './compliance/audit/audit-checkpoint-job.ts';
import { type BackgroundJobs, createBackgroundJobs } from './jobs/index.ts';
import { type Alerting, buildAlerting } from './alerting/alerting-wiring.ts';
import { registerBackups } from './backup/index.ts';
import { installAuthHook } from './http/auth-hook.ts';
import { installTenantClosedHook } from './http/tenant-closed-hook.ts';
import { tenantCloseRoutes } from './tenancy/tenant-close-routes.ts';
import { createTenantKeyRotation } from './crypto/tenant-key-rotation.ts';
import { tenantKeyRotationRoutes } from './crypto/tenant-key-rotation-routes.ts';
import { createTenantPurgeTask } from './tenancy/tenant-purge-task.ts';
import { evidenceReportRoutes, evidenceReportServiceFor } from './compliance/evidence-report/index.ts';
import { adminRoutes } from './identity/admin-routes.ts';
import { adminConsoleRoutes } from './identity/admin-console-routes.ts';
import { dialogRoutes } from './messaging/dialog-routes.ts';
import { platformHealthRoutes, staffRoutes } from './platform/index.ts';
import {
  supportGrantRoutes,
  supportRequestRoutes,
  supportReviewCondition,
  supportReviewRoutes,
} from './compliance/support-access/index.ts';
import {
  createIncidentReminderTask,
  incidentRoutes,
  tenantIncidentRoutes,
} from './compliance/incidents/index.ts';
import { riskReviewCondition, riskRoutes } from './compliance/risk-register/index.ts';
import { createLegalRequestNoticeTask, legalRequestRoutes } from './compliance/legal-requests/index.ts';
import { attachmentRoutes } from './attachments/attachment-routes.ts';
import { iceServersRoutes } from './calls/ice-servers-routes.ts';
import { memberRoutes } from './messaging/member-routes.ts';
import { messageRoutes } from './messaging/message-routes.ts';
import { presenceRoutes } from './presence/presence-routes.ts';
import { callRoutes } from './calls/call-routes.ts';
import { searchRoutes } from './messaging/search/search-routes.ts';
import { createAttachmentSweeper } from './attachments/attachment-sweeper.ts';
import { createCallSweeper } from './calls/call-sweeper.ts';
import { attachGateway } from './realtime/gateway.ts';
import { SessionSockets } from './realtime/session-sockets.ts';
import { emailRoutes } from './identity/email/email-routes.ts';
import { emailChangeRoutes } from './identity/email/email-change-routes.ts';
import { dsrRoutes } from './compliance/gdpr/dsr-routes.ts';
import { rectificationRoutes } from './compliance/gdpr/rectification-routes.ts';
import { restrictionRoutes } from './compliance/gdpr/restriction-routes.ts';
import { createExportExpiryTask } from './compliance/gdpr/export-expiry-task.ts';
import { registerDataLifecycleTasks } from './compliance/retention/data-lifecycle-tasks.ts';
import { exportRoutes } from './compliance/gdpr/export-routes.ts';
import { erasureRoutes } from './compliance/gdpr/erasure-routes.ts';
import { meRoutes } from './identity/me-routes.ts';
import { mfaRoutes } from './identity/mfa/mfa-routes.ts';
import { oauthRoutes } from './identity/oauth/oauth-routes.ts';
import { tenantRoutes } from './tenancy/tenant-routes.ts';
import { consentAdminRoutes } from './compliance/gdpr/consent-admin-routes.ts';
import { consentRoutes } from './compliance/gdpr/consent-routes.ts';
import { retentionRoutes } from './compliance/retention/index.ts';

export interface AppOptions {
  /** Where JSON logs go; stdout when unset. */
  logDestination?: DestinationStream;
  clock?: Clock;
  /** Extra routes, for tests that need a handler the product does not have (e.g. a slow one). */
  extraRoutes?: readonly RouteDeclaration[];
}

export interface App {
  readonly config: Config;
  /** This node's name in every log line (`PARLEY_NODE_ID`, or generated at start). */
  readonly nodeId: string;
  /** Scheduled tasks and durable jobs of this node: features register their handlers here. */
  readonly jobs: BackgroundJobs;
  /** The embedded alerting, unless `PARLEY_ALERTS=false`. */
  readonly alerting: Alerting | undefined;
  readonly fastify: FastifyInstance;
  readonly storage: Storage;
  readonly logger: Logger;
  readonly tenants: TenantService;
  readonly services: AppServices;
  readonly security: SecurityCore;
  readonly tls: TlsFiles | undefined;
  /** This server's Prometheus metrics (its own registry; docs/monitoring.md). */
  readonly metrics: ParleyMetrics;
  /** `http://host:port/metrics` once listening, unless `PARLEY_METRICS_ENABLED=false`. */
  readonly metricsUrl: string | undefined;
  /** Starts listening; resolves with the base URL (https://host:port). */
  listen(): Promise<string>;
  /** Stops accepting, drains in-flight work within the grace period, closes the database. */
  shutdown(): Promise<void>;
  /** Re-reads the certificate files (SIGHUP), for renewals without a restart. */
  reloadTls(): void;
}

/** Everything that must exist on disk before serving: data dir, master key, certificate. */
async function prepareDataDir(config: Config): Promise<TlsFiles | undefined> {
  ensurePrivateDir(config.dataDir);
  if (config.tlsMode === 'behind-proxy') return undefined;
  if (config.tlsCert && config.tlsKey) return { certFile: config.tlsCert, keyFile: config.tlsKey };
  return ensureSelfSignedCertificate(config.dataDir);
}

function createRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let lastWarned = 0;
  redis.on('error', (error: Error) => {
    // Reconnect attempts fail every couple of seconds while Redis is down; one warning a minute is enough.
    if (Date.now() - lastWarned > 60_000) {
      lastWarned = Date.now();
      logger.warn({ err: error }, 'redis unavailable');
    }
  });
  return redis;
}

/**
 * The metrics listener: a port taken (another process, a second server on one machine) is logged, not
 * fatal: chat matters more than its metrics, and Prometheus sees the target down (`up == 0`) and alerts.
 */
async function openMetricsListener(
  config: Config,
  metrics: ParleyMetrics,
  logger: Logger,
): Promise<MetricsListener | undefined> {
  try {
    const listener = await startMetricsListener({
      registry: metrics.registry,
      host: config.metricsHost,
      port: config.metricsPort,
      token: config.metricsToken,
    });
    logger.info({ metricsUrl: listener.url }, 'metrics listener started');
    return listener;
  } catch (error) {
    logger.error({ err: error }, 'metrics listener could not start; serving without /metrics');
    return undefined;
  }
}

/** The composition root: the one place that picks concrete adapters and wires services to the edges. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  // SQLite: one server per data directory. PostgreSQL nodes share the database, and may share a directory.
  const lock = config.databaseUrl ? undefined : acquireDataDirLock(config.dataDir);
  try {
    return await assembleApp(config, options, lock);
  } catch (error) {
    lock?.release();
    throw error;
  }
}

async function assembleApp(config: Config, options: AppOptions, lock: DataDirLock | undefined): Promise<App> {
  const nodeId = nodeIdOf(config.nodeId);
  const logger = createLogger(config.logLevel, options.logDestination, nodeId);
  const clock = options.clock ?? systemClock;
  const tls = await prepareDataDir(config);
  const metrics = createMetrics();
  // Off by default; on, the OpenTelemetry SDK is loaded now (docs/monitoring.md, Tracing).
  const tracing = await startTracing({
    enabled: config.tracing,
    endpoint: config.tracingEndpoint,
    sampleRatio: config.tracingSampleRatio,
    nodeId,
    dialect: config.databaseUrl ? 'postgres' : 'sqlite',
    logger,
  });
  const storage = openStorage({
    ...config,
    onPoolError: (error) => {
      logger.warn({ err: error }, 'database connection lost');
    },
    // Parley's own refusals (not found, forbidden, …) roll back too; only the others are database errors.
    onTransaction: (seconds, error) => {
      metrics.database.transaction(seconds, error !== undefined && !(error instanceof AppError));
      tracing.transactionEnded(seconds, error);
    },
  });
  await migrateToLatest(storage);
  if (await autovacuumOff(storage))
    logger.warn(
      'PostgreSQL autovacuum is off: planner statistics go stale as tables grow, and searches and history reads can then take seconds (docs/deployment.md, "Autovacuum")',
    );
  const security = await openSecurityCore({
    storage,
    clock,
    masterKeyFile: config.masterKeyFile,
    masterKeyEnvironment: config.masterKey,
    generateIfMissing: true,
    erasureLogFile: config.erasureLogFile,
  });
  const redis = config.redisUrl ? createRedis(config.redisUrl, logger) : undefined;
  const keyManagement = createKeyManagement({ storage, keyring: security.keyring, clock });
  const reencryption = setInterval(() => {
    keyManagement.reencryptPending().then(
      (result) => {
        if (result.moved > 0) logger.info(result, 're-encrypted user keys onto rotated data keys');
      },
      (error: unknown) => {
        logger.error({ err: error }, 're-encryption pass failed');
      },
    );
  }, config.reencryptIntervalSeconds * 1000);
  reencryption.unref();
  const attachmentSweeper = createAttachmentSweeper({ storage, clock });
  const sweeping = setInterval(() => {
    attachmentSweeper.sweepAbandoned().then(
      (removed) => {
        if (removed > 0) logger.info({ removed }, 'removed abandoned attachment uploads');
      },
      (error: unknown) => {
        logger.error({ err: error }, 'attachment sweep failed');
      },
    );
  }, 3600 * 1000);
  sweeping.unref();
  // Links in mail point at the configured public URL, else at this server (known once it listens); never
  // at a request's Host header, which an attacker chooses (password-reset poisoning).
  let listeningUrl: string | undefined;
  const publicUrl = () =>
    config.publicUrl ?? listeningUrl ?? `${tls ? 'https' : 'http'}://localhost:${config.port}`;
  const services = buildServices({ config, storage, security, redis, clock, logger, publicUrl, metrics });
  // Before anything is served: a database restored from a copy older than an erasure erases it again.
  const reErased = await services.erasures.reapplyRegister();
  if (reErased > 0) logger.warn({ accounts: reErased }, 'erased again accounts the erasure register names');
  // Each node's register learns the erasures other nodes ran: at start-up, then every ten minutes.
  const syncRegister = () =>
    services.erasures.syncRegister().then(
      (added) => {
        if (added > 0) logger.info({ added }, 'erasure register: recorded erasures run by other nodes');
      },
      (error: unknown) => {
        logger.error({ err: error }, 'erasure register sync failed');
      },
    );
  await syncRegister();
  const registerSyncing = setInterval(() => void syncRegister(), 600_000);
  registerSyncing.unref();
  const callSweeper = createCallSweeper({
    storage,
    clock,
    calls: services.calls,
    ringTimeoutMs: config.callRingTimeoutMs,
  });
  const callSweeping = setInterval(() => {
    callSweeper.sweepStaleRinging().catch((error: unknown) => {
      logger.error({ err: error }, 'call sweep failed');
    });
  }, 60_000);
  callSweeping.unref();
  const auditCheckpoints = createAuditCheckpointJob({
    storage,
    audit: services.audit,
    clock,
    intervalSeconds: config.auditCheckpointIntervalSeconds,
  });
  const checkpointing =
    config.auditCheckpointIntervalSeconds > 0
      ? setInterval(() => {
          auditCheckpoints.run().then(
            ({ refused, failed }) => {
              metrics.audit.verified(clock.now() / 1000, refused.length);
              alerting?.auditChains.report(refused.map((chain) => chain.tenantId));
              for (const chain of refused)
                logger.error(chain, 'audit chain tail does not verify; not signed');
              for (const { tenantId, error } of failed)
                logger.error({ tenantId, err: error }, 'audit checkpoint failed for a chain; not signed');
            },
            (error: unknown) => {
              logger.error({ err: error }, 'audit checkpoint pass failed');
            },
          );
        }, config.auditCheckpointIntervalSeconds * 1000)
      : undefined;
  checkpointing?.unref();
  // The audit checkpoint above stays a per-node timer: each node appends to its own anchor file.
  const jobs = createBackgroundJobs({
    storage,
    clock,
    nodeId,
    logger,
    pollIntervalMs: config.jobPollIntervalMs,
    leaseMs: config.jobLeaseSeconds * 1000,
    concurrency: config.jobConcurrency,
  });
  jobs.runner.register(services.exportJob);
  jobs.runner.register(services.legalRequests.packageJob);
  jobs.scheduler.register(createExportExpiryTask(services.exports));
  jobs.runner.register(services.erasureJob);
  jobs.scheduler.register(createTenantPurgeTask(services.tenantClosures, logger));
  registerDataLifecycleTasks({
    scheduler: jobs.scheduler,
    storage,
    clock,
    audit: services.audit,
    fieldCipher: security.fieldCipher,
    signingKeys: security.signingKeys,
    logger,
    rules: services.retention,
    holds: services.legalHolds,
  });
  jobs.scheduler.register(services.retentionSweeper.task());
  jobs.scheduler.register(createIncidentReminderTask(services.incidents));
  jobs.scheduler.register(createLegalRequestNoticeTask(services.legalRequests));
  jobs.scheduler.register(
    createAccessLogRetentionTask({ storage, audit: services.audit, accessLog: services.accessLog.service }),
  );
  const { tenants } = services;
  // Embedded alerting (docs/monitoring.md): cluster conditions as a scheduled task, this node's on a timer.
  const alerting = config.alerts
    ? buildAlerting({ config, storage, redis, clock, logger, nodeId, tls, jobs })
    : undefined;
  // Risks past their yearly review (docs/compliance.md, "Registers").
  alerting?.alerting.register(riskReviewCondition(services.risks));
  // Support access past its periodic review (docs/security.md, "Periodic review").
  alerting?.alerting.register(supportReviewCondition(services.supportReviews));
  // Scheduled encrypted backups (embedded: built in; PostgreSQL: pgBackRest) and their alerts (docs/backups.md);
  // on PostgreSQL, a restored database gets its new epoch here, before the epoch is read below.
  await registerBackups({
    config,
    storage,
    clock,
    logger,
    scheduler: jobs.scheduler,
    alerting: alerting?.alerting,
  });

  const readinessChecks: HealthCheck[] = [{ name: 'database', check: () => storage.ping() }];
  // A master key from the environment has no file to lose.
  if (config.masterKey === undefined) readinessChecks.push(keyFileCheck(config.masterKeyFile));
  if (redis)
    readinessChecks.push({
      name: 'redis',
      check: async () => {
        await redis.ping();
      },
    });

  let shuttingDown: Promise<void> | undefined;
  const fastify = await createHttpServer({
    logger,
    draining: () => shuttingDown !== undefined,
    tls,
    trustProxy: config.trustProxy,
    bodyLimitBytes: config.bodyLimitBytes,
    hstsMaxAgeSeconds: config.hstsMaxAgeSeconds,
    connectionLimits: {
      perAddress: config.maxConnectionsPerAddress,
      total: config.maxConnections,
      tlsHandshakeTimeoutMs: config.tlsHandshakeTimeoutMs,
      headersTimeoutMs: config.headersTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
    },
    cors: {
      origins: config.corsOrigins,
      credentials: config.corsCredentials,
      maxAgeSeconds: config.corsMaxAgeSeconds,
    },
    routes: (openApiDocument) => [
      ...opsRoutes({
        readinessChecks,
        securityContact: config.securityContact,
        securityTxtExpires: () =>
          config.securityTxtExpires ?? new Date(clock.now() + 180 * 24 * 3600 * 1000).toISOString(),
        openApiDocument,
      }),
      ...oauthRoutes(services),
      ...meRoutes(services),
      ...emailRoutes(services),
      ...mfaRoutes(services),
      ...tenantRoutes(services),
      ...consentRoutes(services),
      ...consentAdminRoutes(services),
      ...adminRoutes(services),
      ...adminConsoleRoutes(services),
      ...dialogRoutes(services),
      ...attachmentRoutes(services),
      ...memberRoutes(services),
      ...messageRoutes(services),
      ...presenceRoutes(services),
      ...callRoutes(services),
      ...searchRoutes(services),
      ...iceServersRoutes(services),
      ...auditRoutes({ audit: services.audit, storage }),
      ...accessLogRoutes({ accessLog: services.accessLog.service }),
      ...emailChangeRoutes(services),
      ...dsrRoutes(services),
      ...restrictionRoutes(services),
      ...exportRoutes(services),
      ...erasureRoutes(services),
      ...retentionRoutes(services),
      ...rectificationRoutes(services),
      ...tenantCloseRoutes(services),
      ...tenantKeyRotationRoutes({
        tenantKeyRotation: createTenantKeyRotation({
          storage,
          keyring: security.keyring,
          audit: services.audit,
        }),
      }),
      ...staffRoutes(services),
      ...supportRequestRoutes(services),
      ...supportGrantRoutes(services),
      ...supportReviewRoutes({ supportReviews: services.supportReviews, clock }),
      ...incidentRoutes({ incidents: services.incidents, clock }),
      ...tenantIncidentRoutes({ incidents: services.incidents, clock, publicUrl }),
      ...riskRoutes({ risks: services.risks, clock }),
      ...platformHealthRoutes({ risks: services.risks, supportReviews: services.supportReviews, clock }),
      ...legalRequestRoutes(services),
      ...evidenceReportRoutes({
        evidenceReports: evidenceReportServiceFor({
          config,
          tls12Ciphers: tls12Ciphers.split(':'),
          storage,
          signingKeys: security.signingKeys,
          audit: services.audit,
          clock,
          retentionRules: (tenantId) => services.retention.get(tenantId),
          supportReview: (now) => services.supportReviews.status(now),
        }),
      }),
      ...(options.extraRoutes ?? []),
    ],
    installHooks: (instance) => {
      traceHttp(instance, tracing);
      installAuthHook(instance, services.sessions, services.staff, services.supportGrants);
      installTenantClosedHook(instance, services.tenantClosures);
    },
  });

  const epoch = (
    await storage.withSystem((tx) =>
      tx.selectFrom('parley_meta').select('value').where('key', '=', 'epoch').executeTakeFirstOrThrow(),
    )
  ).value;
  // Evictions close (or re-check) this node's sockets of the sessions concerned before the node acknowledges.
  const sessionSockets = new SessionSockets();
  services.sessions.onEviction((eviction) => {
    sessionSockets.apply(eviction);
  });
  const gateway = attachGateway(fastify.server, {
    services,
    epoch,
    logger,
    sessionSockets,
    maxFrameBytes: config.realtimeMaxFrameBytes,
    metrics,
    tracing,
    refusalHeaders: securityHeaders(config.hstsMaxAgeSeconds),
    limits: {
      authTimeoutMs: config.realtimeAuthTimeoutMs,
      sendBufferBytes: 4 * 1024 * 1024,
      framesPerSecond: config.realtimeFramesPerSecond,
      maxViolations: 20,
    },
  });

  meterHttp(fastify, metrics);
  registerMetricSources(metrics.registry, {
    storage,
    dataDir: config.dataDir,
    certFile: tls?.certFile,
    redisStatus: redis ? () => redis.status : undefined,
    busReliable: () => services.bus.reliable,
    openSockets: () => gateway.connections,
    tenantLabels: config.metricsTenantLabels,
    keyRotationDays: config.keyRotationDays,
    supportReview: (now) => services.supportReviews.status(now),
    now: () => clock.now(),
  });
  let metricsListener: MetricsListener | undefined;

  // While draining, every response closes its connection, so keep-alive sockets do not hold shutdown open.
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (shuttingDown) reply.header('connection', 'close');
    done(null, payload);
  });
  const shutdown = async (): Promise<void> => {
    clearInterval(reencryption);
    clearInterval(sweeping);
    clearInterval(callSweeping);
    clearInterval(checkpointing);
    clearInterval(registerSyncing);
    services.calls.close();
    // Stop listening first (new connections are refused at once), then send realtime clients away.
    const closeServer = fastify.close();
    await gateway.close();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        resolve('timeout');
      }, config.shutdownGraceMs);
    });
    if ((await Promise.race([closeServer.then(() => 'closed' as const), grace])) === 'timeout') {
      logger.warn({ graceMs: config.shutdownGraceMs }, 'grace period over; closing remaining connections');
      fastify.server.closeAllConnections();
      await closeServer;
    }
    clearTimeout(timer);
    // Mail still in flight may write the outbox: let it finish before the database closes.
    await services.emailFlows.drain();
    // A checkpoint pass under way finishes its transaction rather than meet a closed database.
    await auditCheckpoints.idle();
    await alerting?.alerting.stop();
    // Running jobs wind down and hand back what they did not finish, to resume from their checkpoint.
    await jobs.stop(config.shutdownGraceMs);
    // Reads recorded since the last flush (docs/compliance.md "Access log"), once no request or socket is left.
    await services.accessLog.recorder.close();
    await services.bus.close();
    await storage.close();
    await metricsListener?.close();
    // The last spans (this shutdown's transactions among them) go to the collector before the process ends.
    await tracing.shutdown();
    lock?.release();
    // QUIT is polite only to a Redis that answers; while it is away, QUIT would wait forever.
    if (redis?.status === 'ready') await redis.quit().catch(() => undefined);
    else redis?.disconnect();
    logger.info('shutdown complete');
  };

  // Started last, so a start-up that fails on the way leaves no runner behind.
  jobs.start();
  services.accessLog.recorder.start();
  alerting?.alerting.start();
  return {
    config,
    nodeId,
    jobs,
    alerting: alerting?.alerting,
    fastify,
    storage,
    logger,
    tenants,
    services,
    security,
    tls,
    metrics,
    get metricsUrl() {
      return metricsListener?.url;
    },
    async listen() {
      await fastify.listen({ host: config.host, port: config.port });
      if (config.metricsEnabled) metricsListener = await openMetricsListener(config, metrics, logger);
      const { port } = fastify.server.address() as AddressInfo;
      const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
      listeningUrl = `${tls ? 'https' : 'http'}://${shownHost}:${port}`;
      return listeningUrl;
    },
    shutdown: () => (shuttingDown ??= shutdown()),
    reloadTls() {
      const server: unknown = fastify.server;
      if (!tls || !(server instanceof HttpsServer)) return;
      try {
        server.setSecureContext(tlsContextOptions(tls));
        logger.info('TLS certificate reloaded');
      } catch (error) {
        // A half-copied or mismatched pair must not take the server down: keep serving the old one.
        logger.error({ err: error }, 'TLS reload failed; keeping the current certificate');
      }
    },
  };
}
