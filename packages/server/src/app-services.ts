import type { Redis } from 'ioredis';
import type { Bus } from './bus/bus.ts';
import { LocalBus } from './bus/local-bus.ts';
import { RedisBus } from './bus/redis-bus.ts';
import type { Clock } from './clock.ts';
import { openAuditAnchors } from './compliance/audit/audit-anchors.ts';
import { AuditLog } from './compliance/audit/audit-log.ts';
import { createAccessLog } from './compliance/access-log/index.ts';
import type { Config } from './config.ts';
import type { Counter } from './counters/counter.ts';
import { MemoryCounter } from './counters/memory-counter.ts';
import { RedisCounter } from './counters/redis-counter.ts';
import type { SecurityCore } from './crypto/security-core.ts';
import { createAccountService } from './identity/account-service.ts';
import { createClientService } from './identity/oauth/client-service.ts';
import { createCredentialService } from './identity/oauth/credential-service.ts';
import { createEmailFlowsService } from './identity/email/email-flows-service.ts';
import { createMfaService } from './identity/mfa/mfa-service.ts';
import { PasswordHasher } from './identity/passwords/password-hasher.ts';
import { createStaffService } from './platform/index.ts';
import { createSupportGrantService, createSupportReviewService } from './compliance/support-access/index.ts';
import { createIncidentService } from './compliance/incidents/index.ts';
import { createRiskService } from './compliance/risk-register/index.ts';
import { createLegalRequests } from './compliance/legal-requests/index.ts';
import { createProfileService } from './identity/profile-service.ts';
import { createEmailChangeService } from './identity/email/email-change-service.ts';
import { createDsrService } from './compliance/gdpr/dsr-service.ts';
import { createRectificationService } from './compliance/gdpr/rectification-service.ts';
import { createRestrictionService } from './compliance/gdpr/restriction-service.ts';
import { createExportJob } from './compliance/gdpr/export-job.ts';
import { dsrExportRequests } from './compliance/gdpr/export-request-log.ts';
import { createExportService } from './compliance/gdpr/export-service.ts';
import { createTenantCloseService } from './tenancy/tenant-close-service.ts';
import { createTenantPurge } from './tenancy/tenant-purge.ts';
import { createErasureJob } from './compliance/gdpr/erasure-job.ts';
import { createErasureService } from './compliance/gdpr/erasure-service.ts';
import { createErasureSteps, ERASURE_SETTLE_MS } from './compliance/gdpr/erasure-steps.ts';
import { createAttachmentErasure } from './attachments/attachment-erasure.ts';
import { createMessageErasure } from './messaging/message-erasure.ts';
import { createRetention } from './compliance/retention/index.ts';
import { createJobQueue } from './jobs/job-queue.ts';
import { createSessionService } from './identity/sessions/session-service.ts';
import { owesRequiredConsent } from './compliance/gdpr/consent-gate.ts';
import { createConsentPurposeService } from './compliance/gdpr/consent-purpose-service.ts';
import { createConsentService } from './compliance/gdpr/consent-service.ts';
import { createUserAdminService } from './identity/user-admin-service.ts';
import { createUserService } from './identity/user-service.ts';
import {
  accessLoggingIn,
  createTenantSettingsService,
  exportSettingsIn,
  messagingLimitsIn,
} from './tenancy/tenant-settings-service.ts';
import type { Mailer } from './notifications/mailer.ts';
import { OutboxMailer } from './notifications/outbox-mailer.ts';
import { createSecurityOfficerNotifier } from './platform/security-officer-notifier.ts';
import { SmtpMailer } from './notifications/smtp-mailer.ts';
import type { Logger } from './observability/logger.ts';
import { createDialogService } from './messaging/dialog-service.ts';
import { CommittedPages } from './messaging/committed-pages.ts';
import { createMessageFanout } from './messaging/message-fanout.ts';
import { createMessageService } from './messaging/message-service.ts';
import { SendRateLimiter } from './messaging/send-rate-limit.ts';
import { createBlockService } from './messaging/block-service.ts';
import { createDialogMemberService } from './messaging/dialog-member-service.ts';
import type { MessageAttachments } from './messaging/message-attachments.ts';
import { createMessageChangeService } from './messaging/message-change-service.ts';
import { PostgresSearchIndex } from './messaging/search/postgres-search-index.ts';
import type { SearchIndex } from './messaging/search/search-index.ts';
import { createSearchService } from './messaging/search/search-service.ts';
import { SearchTokenHasher } from './messaging/search/search-token-hasher.ts';
import { SqliteSearchIndex } from './messaging/search/sqlite-search-index.ts';
import { createMessageStream } from './messaging/message-stream.ts';
import { createReceiptService } from './messaging/receipt-service.ts';
import { createTypingService } from './messaging/typing-service.ts';
import { createCallHistoryService } from './calls/call-history-service.ts';
import { createCallService } from './calls/call-service.ts';
import { MemoryPresenceStore } from './presence/memory-presence-store.ts';
import { createPresenceService } from './presence/presence-service.ts';
import type { PresenceStore } from './presence/presence-store.ts';
import { RedisPresenceStore } from './presence/redis-presence-store.ts';
import { createAttachmentService } from './attachments/attachment-service.ts';
import { createIceServerService } from './calls/ice-server-service.ts';
import { createAttachmentSharing } from './attachments/attachment-sharing.ts';
import type { Storage } from './storage/database.ts';
import { meterAuditedSecurityEvents, meterBus } from './observability/metric-taps.ts';
import type { ParleyMetrics } from './observability/metrics.ts';
import { createTenantService } from './tenancy/tenant-service.ts';

/** Runs of committed messages a node keeps for its own delivery: ~ a few seconds of a busy node's sends. */
const COMMITTED_RUNS_KEPT = 4096;

/**
 * Part of the composition root: picks the adapters (in-process or Redis) and builds every service with
 * exactly the dependencies it declares. Only app.ts calls it.
 */
export function buildServices(input: {
  config: Config;
  storage: Storage;
  security: SecurityCore;
  redis: Redis | undefined;
  clock: Clock;
  logger: Logger;
  /** Base URL for links in mail: `PARLEY_PUBLIC_URL`, or the server's own URL once it listens. */
  publicUrl: () => string;
  /** The server's metrics: bus publish failures and audited security events are counted here. */
  metrics?: ParleyMetrics;
}) {
  const { config, storage, security, redis, clock, logger, metrics } = input;
  const adapterBus: Bus = config.redisUrl
    ? new RedisBus(config.redisUrl, config.redisKeyPrefix)
    : new LocalBus();
  const bus = metrics ? meterBus(adapterBus, metrics) : adapterBus;
  const counter: Counter = redis ? new RedisCounter(redis, config.redisKeyPrefix) : new MemoryCounter(clock);
  const audit = new AuditLog({
    fieldCipher: security.fieldCipher,
    signingKeys: security.signingKeys,
    clock,
    dialect: storage.dialect,
    anchors: openAuditAnchors({
      file: config.auditAnchorFile,
      webhookUrl: config.auditAnchorWebhookUrl,
      signingKeys: security.signingKeys,
      clock,
      onWebhookGiveUp: (error) => {
        logger.error({ err: error }, 'audit anchors not delivered to the webhook after retries');
      },
    }),
  });
  if (metrics) meterAuditedSecurityEvents(audit, metrics);
  const hasher = new PasswordHasher();
  const sessions = createSessionService({
    storage,
    bus,
    clock,
    fieldCipher: security.fieldCipher,
    audit,
    owesConsent: owesRequiredConsent,
    onUnconfirmedRevocation: (missing) => {
      logger.warn({ missing }, 'revocation not confirmed by every node in time');
    },
  });
  const users = createUserService({ storage, security, clock });
  const consents = createConsentService({
    storage,
    audit,
    clock,
    refreshPrincipalsOf: sessions.refreshPrincipalsOf,
  });
  const accounts = createAccountService({
    storage,
    security,
    hasher,
    sessions,
    users,
    consents,
    audit,
    counter,
    clock,
  });
  const mailer: Mailer = config.smtpUrl
    ? new SmtpMailer({ url: config.smtpUrl, from: config.mailFrom })
    : new OutboxMailer({ storage, fieldCipher: security.fieldCipher, clock });
  // Reminders to security officers go through the relay only; without one, the audit chain carries them.
  const officers = createSecurityOfficerNotifier({
    storage,
    fieldCipher: security.fieldCipher,
    mailer: config.smtpUrl ? mailer : undefined,
    onError: (error) => {
      const { code } = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown };
      logger.warn({ code }, 'security officer reminder not delivered');
    },
  });
  const emailFlows = createEmailFlowsService({
    storage,
    security,
    hasher,
    sessions,
    users,
    audit,
    counter,
    clock,
    mailer,
    publicUrl: input.publicUrl,
    onDeliveryFailure: (kind, error) => {
      // The kind and error code only: a relay's error text can quote the recipient's address.
      const { code, responseCode } = (typeof error === 'object' && error !== null ? error : {}) as {
        code?: unknown;
        responseCode?: unknown;
      };
      logger.warn(
        {
          kind,
          code: typeof code === 'string' ? code : 'unknown',
          ...(typeof responseCode === 'number' ? { responseCode } : {}),
        },
        'mail not delivered',
      );
    },
  });
  const limits = messagingLimitsIn;
  const fieldCipher = security.fieldCipher;
  const attachments: MessageAttachments = createAttachmentSharing({ fieldCipher, dialect: storage.dialect });
  const dialogs = createDialogService({ storage, fieldCipher, clock, limits, attachments });
  const fanout = createMessageFanout(bus);
  // The full-text engine follows the database: FTS5 on SQLite, tsvector + GIN on PostgreSQL.
  const searchTokens = new SearchTokenHasher(security.keyring);
  const index: SearchIndex =
    storage.dialect === 'postgres'
      ? new PostgresSearchIndex(searchTokens)
      : new SqliteSearchIndex(searchTokens);
  const sendRate = new SendRateLimiter(clock, {
    perSecond: config.sendRatePerSecond,
    burst: config.sendBurst,
  });
  // What this node commits, kept so its own stream reads need not read it back (see committed-pages.ts).
  const committed = new CommittedPages({ maxRuns: COMMITTED_RUNS_KEPT });
  const messageDeps = {
    sendRate,
    storage,
    fieldCipher,
    dialogs,
    clock,
    fanout,
    index,
    attachments,
    limits,
    committed,
  };
  const presenceStore: PresenceStore = redis
    ? new RedisPresenceStore(redis, config.redisKeyPrefix, clock)
    : new MemoryPresenceStore(clock);
  const profiles = createProfileService({ storage, security, users, audit, clock });
  const mfa = createMfaService({ storage, security, hasher, audit, counter, clock, sessions });
  const dsr = createDsrService({ storage, fieldCipher: security.fieldCipher, users, audit, clock });
  const erasureSteps = createErasureSteps({
    storage,
    clock,
    audit,
    security,
    sessions,
    dsr,
    messages: createMessageErasure({ storage, clock, fanout, index, attachments }),
    attachments: createAttachmentErasure({ storage }),
    settleMs: ERASURE_SETTLE_MS,
  });
  const retentionAttachments = createAttachmentErasure({ storage });
  const retention = createRetention({
    storage,
    clock,
    audit,
    fieldCipher: security.fieldCipher,
    fanout,
    index,
    attachments,
    eraseAttachments: (tx, tenantId, ids) => retentionAttachments.eraseIds(tx, tenantId, ids),
  });
  const erasureJob = createErasureJob(erasureSteps, { storage, holds: retention.legalHolds, clock });
  const attachmentService = createAttachmentService({ storage, fieldCipher, clock, limits });
  const exportRequests = dsrExportRequests(dsr);
  const exportJob = createExportJob({
    storage,
    fieldCipher,
    audit,
    attachments: attachmentService,
    requests: exportRequests,
    clock,
  });
  const exports = createExportService({
    storage,
    fieldCipher,
    users,
    audit,
    clock,
    counter,
    queue: createJobQueue({ clock }),
    job: exportJob,
    requests: exportRequests,
    settings: exportSettingsIn,
  });
  // Who read what (issue 17 point 6): on by the tenant's setting, or with the HIPAA audit preset.
  const accessLog = createAccessLog({
    storage,
    audit,
    clock,
    isEnabled: (tenantId) =>
      storage.withTenant(tenantId, async (tx) => {
        const setting = await accessLoggingIn(tx, tenantId);
        if (setting !== 'preset') return setting === 'on';
        return (await retention.retention.rulesIn(tx, tenantId)).auditPreset === 'hipaa';
      }),
    intervalMs: config.accessLogFlushMs,
    onFlushError: (error, tenantId, dropped) => {
      logger.error(
        { err: error, tenantId, dropped },
        'access log batch not written; kept for the next flush',
      );
    },
  });
  const tenantClosures = createTenantCloseService({
    storage,
    clock,
    audit,
    exports,
    purge: createTenantPurge({
      storage,
      clock,
      audit,
      keyring: security.keyring,
      signingKeys: security.signingKeys,
      // A hold on the tenant, or on any user or dialog in it, refuses the purge (issue 14, point 3).
      holds: (tenantId) => retention.legalHolds.isHeld(tenantId, { type: 'tenant' }),
    }),
  });
  return {
    accessLog,
    dialogs,
    fanout,
    messages: createMessageService(messageDeps),
    attachments: attachmentService,
    exportJob,
    exports,
    tenantClosures,
    messageChanges: createMessageChangeService(messageDeps),
    stream: createMessageStream({ storage, fieldCipher, attachments, committed }),
    search: createSearchService({ storage, index, fieldCipher, attachments }),
    members: createDialogMemberService({ storage, clock, dialogs, limits }),
    receipts: createReceiptService({ storage, dialogs, fanout }),
    typing: createTypingService({ storage, dialogs, fanout }),
    blocks: createBlockService({ storage, dialogs, clock }),
    presence: createPresenceService({ storage, store: presenceStore, fanout, clock }),
    callHistory: createCallHistoryService({ storage }),
    calls: createCallService({
      storage,
      clock,
      fanout,
      audit,
      counter,
      liveDevices: (tenantId, userId) => presenceStore.liveConnections(tenantId, userId),
      limits,
      ringTimeoutMs: config.callRingTimeoutMs,
    }),
    bus,
    counter,
    audit,
    sessions,
    users,
    tenants: createTenantService({
      storage,
      clock,
      audit,
      setupTokenTtlSeconds: config.setupTokenTtlSeconds,
    }),
    credentials: createCredentialService({
      storage,
      security,
      hasher,
      sessions,
      audit,
      counter,
      clock,
      signInIpCeiling: config.signInIpCeiling,
    }),
    accounts,
    emailFlows,
    userAdmin: createUserAdminService({ storage, accounts, sessions, audit, clock }),
    consents,
    consentPurposes: createConsentPurposeService({
      storage,
      audit,
      clock,
      refreshTenantPrincipals: sessions.refreshTenantPrincipals,
    }),
    tenantSettings: createTenantSettingsService({ storage, audit, clock }),
    profiles,
    dsr,
    restrictions: createRestrictionService({
      storage,
      fieldCipher: security.fieldCipher,
      users,
      sessions,
      dsr,
      audit,
      clock,
    }),
    erasureJob,
    ...retention,
    erasures: createErasureService({
      storage,
      users,
      stepUp: mfa,
      dsr,
      steps: erasureSteps,
      job: erasureJob,
      queue: createJobQueue({ clock }),
      keyring: security.keyring,
      audit,
      counter,
      clock,
    }),
    rectification: createRectificationService({ storage, profiles, users, dsr, emailFlows, audit }),
    emailChanges: createEmailChangeService({
      storage,
      security,
      users,
      accounts,
      emailFlows,
      audit,
      counter,
      clock,
      publicUrl: input.publicUrl,
    }),
    clients: createClientService({ storage, sessions, audit, clock }),
    mfa,
    staff: createStaffService({
      storage,
      counter,
      keyring: security.keyring,
      fieldCipher: security.fieldCipher,
      blindIndex: security.blindIndex,
      hasher,
      audit,
      clock,
    }),
    supportGrants: createSupportGrantService({ storage, audit, fieldCipher: security.fieldCipher, clock }),
    supportReviews: createSupportReviewService({
      storage,
      audit,
      fieldCipher: security.fieldCipher,
      clock,
      periodDays: config.supportReviewDays,
    }),
    incidents: createIncidentService({
      storage,
      audit,
      users,
      mailer,
      clock,
      controllerTargetHours: config.incidentControllerHours,
      officers,
    }),
    risks: createRiskService({ storage, audit, clock }),
    legalRequests: createLegalRequests({
      storage,
      audit,
      users,
      mailer,
      clock,
      fieldCipher: security.fieldCipher,
      queue: createJobQueue({ clock }),
      officers,
    }),
    iceServers: createIceServerService({
      storage,
      keyring: security.keyring,
      counter,
      clock,
      settings: {
        stunUrls: config.stunUrls,
        turnUrls: config.turnUrls,
        turnSecret: config.turnSecret,
        turnTtlSeconds: config.turnTtlSeconds,
      },
    }),
  };
}

export type AppServices = ReturnType<typeof buildServices>;
