import type { Redis } from 'ioredis';
import type { Bus } from './bus/bus.ts';
import { LocalBus } from './bus/local-bus.ts';
import { RedisBus } from './bus/redis-bus.ts';
import type { Clock } from './clock.ts';
import { AuditLog } from './compliance/audit/audit-log.ts';
import type { Config } from './config.ts';
import type { Counter } from './counters/counter.ts';
import { MemoryCounter } from './counters/memory-counter.ts';
import { RedisCounter } from './counters/redis-counter.ts';
import type { SecurityCore } from './crypto/security-core.ts';
import { createAccountService } from './identity/account-service.ts';
import { createClientService } from './identity/client-service.ts';
import { createCredentialService } from './identity/credential-service.ts';
import { createEmailFlowsService } from './identity/email-flows-service.ts';
import { createMfaService } from './identity/mfa-service.ts';
import { PasswordHasher } from './identity/password-hasher.ts';
import { createProfileService } from './identity/profile-service.ts';
import { createSessionService } from './identity/session-service.ts';
import { createUserAdminService } from './identity/user-admin-service.ts';
import { createUserService } from './identity/user-service.ts';
import { createTenantSettingsService } from './tenancy/tenant-settings-service.ts';
import type { Mailer } from './notifications/mailer.ts';
import { OutboxMailer } from './notifications/outbox-mailer.ts';
import { SmtpMailer } from './notifications/smtp-mailer.ts';
import type { Logger } from './observability/logger.ts';
import { createDialogService } from './messaging/dialog-service.ts';
import { createMessageFanout } from './messaging/message-fanout.ts';
import { createMessageService } from './messaging/message-service.ts';
import type { Storage } from './storage/database.ts';
import { createTenantService } from './tenancy/tenant-service.ts';

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
}) {
  const { config, storage, security, redis, clock, logger } = input;
  const bus: Bus = config.redisUrl ? new RedisBus(config.redisUrl, config.redisKeyPrefix) : new LocalBus();
  const counter: Counter = redis ? new RedisCounter(redis, config.redisKeyPrefix) : new MemoryCounter(clock);
  const audit = new AuditLog({
    fieldCipher: security.fieldCipher,
    signingKeys: security.signingKeys,
    clock,
    dialect: storage.dialect,
  });
  const hasher = new PasswordHasher();
  const sessions = createSessionService({
    storage,
    bus,
    clock,
    fieldCipher: security.fieldCipher,
    audit,
    onUnconfirmedRevocation: (missing) => {
      logger.warn({ missing }, 'revocation not confirmed by every node in time');
    },
  });
  const users = createUserService({ storage, security, clock });
  const accounts = createAccountService({ storage, security, hasher, sessions, users, audit, clock });
  const mailer: Mailer = config.smtpUrl
    ? new SmtpMailer({ url: config.smtpUrl, from: config.mailFrom })
    : new OutboxMailer({ storage, fieldCipher: security.fieldCipher, clock });
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
  const dialogs = createDialogService({ storage, fieldCipher: security.fieldCipher, clock });
  const fanout = createMessageFanout(bus);
  return {
    dialogs,
    fanout,
    messages: createMessageService({ storage, fieldCipher: security.fieldCipher, dialogs, clock, fanout }),
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
    credentials: createCredentialService({ storage, security, hasher, sessions, audit, counter, clock }),
    accounts,
    emailFlows,
    userAdmin: createUserAdminService({ storage, accounts, sessions, audit, clock }),
    tenantSettings: createTenantSettingsService({ storage, audit, clock }),
    profiles: createProfileService({ storage, security, users, audit, clock }),
    clients: createClientService({ storage, sessions, audit, clock }),
    mfa: createMfaService({ storage, security, hasher, audit, clock, sessions }),
  };
}

export type AppServices = ReturnType<typeof buildServices>;
