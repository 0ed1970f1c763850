import type { Bus } from '../../bus/bus.ts';
import type { Clock } from '../../clock.ts';
import type { AuditLog } from '../../compliance/audit/audit-log.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import type { Storage } from '../../storage/database.ts';
import type { AuthFailure } from './session-validator.ts';
import type { ConsentCheck, Principal } from './principal-resolver.ts';
import { openDevice, type SessionDevice } from './session-device.ts';
import { createSessionEviction } from './session-eviction.ts';
import { createSessionIssuer } from './session-issuer.ts';
import { createSessionRevocation } from './session-revocation.ts';
import { type SessionRow, sessionStore } from './session-store.ts';
import { createSessionValidator } from './session-validator.ts';

// Callers know sessions by this one module: the types live beside the job that defines them.
export { parseScopes, type Principal } from './principal-resolver.ts';
export type { SessionDevice } from './session-device.ts';
export type { IssuedTokens, RefreshFailure } from './session-issuer.ts';
export type { AuthFailure, SessionGrant } from './session-validator.ts';

export interface SessionServiceDeps {
  storage: Storage;
  bus: Bus;
  clock: Clock;
  fieldCipher: FieldCipher;
  audit: AuditLog;
  /** Whether a user owes consent (compliance/gdpr/consent-gate.ts): their tokens then act as `profile` only. */
  owesConsent: ConsentCheck;
  /** Told when some node did not confirm a revocation in time (it may be partitioned from Redis). */
  onUnconfirmedRevocation?: (missing: number) => void;
}

/**
 * Opaque, scoped, revocable session tokens. Validated tokens are cached in memory for speed; a revocation
 * is broadcast on the bus and evicts them on every node, and while the bus may be missing messages the
 * cache is bypassed, so a revoked token never works anywhere.
 *
 * The work is split by job — issuing and refreshing (`session-issuer.ts`), checking tokens
 * (`session-validator.ts`), ending sessions (`session-revocation.ts`) — around one shared cache and its
 * evictions (`session-eviction.ts`). This module only wires them into the one service callers hold.
 */
export function createSessionService({
  storage,
  bus,
  clock,
  fieldCipher,
  audit,
  owesConsent,
  onUnconfirmedRevocation = () => undefined,
}: SessionServiceDeps) {
  const eviction = createSessionEviction({ bus, onUnconfirmedRevocation });
  const issuer = createSessionIssuer({ storage, clock, fieldCipher, audit, eviction, owesConsent });
  const validator = createSessionValidator({ storage, bus, clock, audit, eviction, owesConsent });
  const revocation = createSessionRevocation({ storage, clock, audit, eviction });

  const service = {
    issue: issuer.issue,

    /** Resolves a bearer token; the hot path is one hash and one map lookup. */
    async authenticate(token: string): Promise<Principal | AuthFailure> {
      // Through `service`, not `validator`: a caller that wraps `validate` (a test, a metric) sees this too.
      const grant = await service.validate(token);
      return typeof grant === 'string' ? grant : grant.principal;
    },

    validate: validator.validate,
    onEviction: eviction.onEviction,
    refresh: issuer.refresh,
    inspect: validator.inspect,
    revokeToken: revocation.revokeToken,
    revokeUserSessions: revocation.revokeUserSessions,
    endUserSessionsIn: revocation.endUserSessionsIn,
    announceEnded: revocation.announceEnded,
    refreshTenantPrincipals: revocation.refreshTenantPrincipals,
    refreshPrincipalsOf: revocation.refreshPrincipalsOf,

    /** The user's live sessions, with the device they were opened from. */
    async listUserSessions(
      tenantId: string,
      userId: string,
    ): Promise<(SessionRow & { deviceInfo: SessionDevice | null })[]> {
      return storage.withTenant(tenantId, async (tx) => {
        const rows = await sessionStore.activeForUser(tx, tenantId, userId, clock.now());
        return Promise.all(
          rows.map(async (row) => ({
            ...row,
            deviceInfo:
              row.device === null ? null : await openDevice(fieldCipher, tx, tenantId, row.id, row.device),
          })),
        );
      });
    },
  };

  return service;
}

export type SessionService = ReturnType<typeof createSessionService>;
