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
import { PasswordHasher } from './identity/password-hasher.ts';
import { createProfileService } from './identity/profile-service.ts';
import { createSessionService } from './identity/session-service.ts';
import { createUserService } from './identity/user-service.ts';
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
}) {
  const { config, storage, security, redis, clock } = input;
  const bus: Bus = config.redisUrl ? new RedisBus(config.redisUrl, config.redisKeyPrefix) : new LocalBus();
  const counter: Counter = redis ? new RedisCounter(redis, config.redisKeyPrefix) : new MemoryCounter(clock);
  const audit = new AuditLog({
    fieldCipher: security.fieldCipher,
    signingKeys: security.signingKeys,
    clock,
    dialect: storage.dialect,
  });
  const hasher = new PasswordHasher();
  const sessions = createSessionService({ storage, bus, clock, fieldCipher: security.fieldCipher });
  const users = createUserService({ storage, security, clock });
  return {
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
    accounts: createAccountService({ storage, security, hasher, sessions, users, audit, clock }),
    profiles: createProfileService({ storage, security, users, audit, clock }),
    clients: createClientService({ storage, sessions, audit, clock }),
  };
}

export type AppServices = ReturnType<typeof buildServices>;
