import type { Bus } from '../../bus/bus.ts';
import type { AuditLog } from '../../compliance/audit/audit-log.ts';
import type { Clock } from '../../clock.ts';
import { hashToken, tenantOfToken } from '../../crypto/token.ts';
import type { Storage } from '../../storage/database.ts';
import {
  type ConsentCheck,
  effectiveScopes,
  parseScopes,
  type Principal,
  principalFor,
} from './principal-resolver.ts';
import type { SessionEviction } from './session-eviction.ts';
import { recordRevocation } from './session-revocation.ts';
import { tokenSettings } from './session-settings.ts';
import { sessionStore } from './session-store.ts';

export type AuthFailure = 'invalid' | 'expired' | 'revoked' | 'idle';

/** A valid token's principal and the moments it stops being valid, for holders that outlive a request. */
export interface SessionGrant {
  principal: Principal;
  /** When the access token expires (ms since the epoch). */
  accessExpiresAt: number;
  idleTimeoutMs: number;
  /** The session's last use as far as this node knows; it idles out at `lastUsedAt + idleTimeoutMs`. */
  lastUsedAt: number;
  /** The service's clock at the check, so a holder can time the deadlines without a clock of its own. */
  checkedAt: number;
}

/**
 * Last-use times are written at most this often (a quarter of the idle timeout when that is shorter): idle
 * timeouts are minutes, writes per request are waste, and another node judging idleness from the database
 * is then off by at most this much.
 */
const LAST_USED_WRITE_INTERVAL_MS = 30_000;

export interface SessionValidatorDeps {
  storage: Storage;
  bus: Bus;
  clock: Clock;
  audit: AuditLog;
  eviction: SessionEviction;
  owesConsent: ConsentCheck;
}

/**
 * Checking access tokens: the hot path of every request and socket. A token found valid is cached on this
 * node (see `createSessionEviction` for why that is safe); a miss reads the session, and ends it if it idled.
 */
export function createSessionValidator({
  storage,
  bus,
  clock,
  audit,
  eviction,
  owesConsent,
}: SessionValidatorDeps) {
  const { cache } = eviction;

  /** The cached grant of a still-valid token, its use noted; undefined when the database must decide. */
  function fromCache(hash: string, now: number, touch: boolean): SessionGrant | undefined {
    const cached = bus.reliable ? cache.get(hash) : undefined;
    if (!cached || cached.accessExpiresAt <= now || now - cached.lastUsedAt >= cached.idleTimeoutMs)
      return undefined;
    if (touch) {
      cached.lastUsedAt = now;
      const interval = Math.min(LAST_USED_WRITE_INTERVAL_MS, cached.idleTimeoutMs / 4);
      if (now - cached.persistedLastUsedAt > interval) persistLastUse(cached.principal, now);
    }
    const { principal, accessExpiresAt, idleTimeoutMs, lastUsedAt } = cached;
    return { principal, accessExpiresAt, idleTimeoutMs, lastUsedAt, checkedAt: now };
  }

  /** Reads and judges the session in the database; an idle one is ended here (and announced by the caller). */
  async function fromDatabase(tenantId: string, hash: string, now: number, touch: boolean) {
    return storage.withTenant(tenantId, async (tx) => {
      const row = await sessionStore.byAccessHash(tx, tenantId, hash);
      if (!row) return 'invalid' as const;
      if (row.revoked_at !== null) return 'revoked' as const;
      if (row.access_expires_at <= now) return 'expired' as const;
      const settings = await tokenSettings(tx, tenantId);
      if (now - row.last_used_at >= settings.idleTimeout * 1000) {
        // Automatic log-off: the whole session ends, not just this token. Several holders (sockets on
        // several nodes) may find it idle at once: one of them ends it and records it.
        if (!(await sessionStore.revokeIfActive(tx, tenantId, row.id, now, 'idle_timeout')))
          return 'revoked' as const;
        await recordRevocation(
          audit,
          tx,
          tenantId,
          [row.id],
          'idle_timeout',
          { type: 'system' },
          row.user_id,
        );
        return { kind: 'idle' as const, sessionId: row.id };
      }
      if (touch) await sessionStore.update(tx, tenantId, row.id, { last_used_at: now });
      return {
        kind: 'ok' as const,
        principal: await principalFor(tx, row, owesConsent),
        row,
        idleTimeoutMs: settings.idleTimeout * 1000,
        lastUsedAt: touch ? now : row.last_used_at,
      };
    });
  }

  /** Writes a cached session's last use in the background; a lost write only makes idleness judged early. */
  function persistLastUse(principal: Principal, now: number): void {
    const entry = cache.peekSession(principal.sessionId);
    if (entry) entry.persistedLastUsedAt = now;
    storage
      .withTenant(principal.tenantId, (tx) =>
        sessionStore.update(tx, principal.tenantId, principal.sessionId, { last_used_at: now }),
      )
      .catch(() => undefined);
  }

  return {
    /**
     * Resolves a bearer token to its principal and the token's expiry and the session's idle deadline. With
     * `touch: false` the check is not a use of the session (a realtime `ping` is liveness, not activity): it
     * does not move the idle deadline, though a session found idle still ends.
     */
    validate: async (token: string, { touch = true } = {}): Promise<SessionGrant | AuthFailure> => {
      const hash = hashToken(token);
      const now = clock.now();
      const cached = fromCache(hash, now, touch);
      if (cached) return cached;
      const tenantId = tenantOfToken('access', token);
      if (tenantId === undefined) return 'invalid';
      // Read before the database: an eviction arriving meanwhile bumps it and the result is not cached.
      const generation = cache.generation;
      const result = await fromDatabase(tenantId, hash, now, touch);
      if (typeof result === 'string') return result;
      if (result.kind === 'idle') {
        await eviction.announce([result.sessionId]);
        return 'idle';
      }
      const grant: SessionGrant = {
        principal: result.principal,
        accessExpiresAt: result.row.access_expires_at,
        idleTimeoutMs: result.idleTimeoutMs,
        lastUsedAt: result.lastUsedAt,
        checkedAt: now,
      };
      if (bus.reliable) cache.set(hash, { ...grant, persistedLastUsedAt: result.lastUsedAt }, generation);
      return grant;
    },

    /**
     * RFC 7662 introspection for a caller of `tenantId`: read-only (it must not keep someone's session alive
     * or end it), and another tenant's token is inactive before any database access.
     */
    inspect: async (token: string, callerTenantId: string) => {
      const tenantId = tenantOfToken('access', token);
      if (tenantId !== callerTenantId) return undefined;
      const now = clock.now();
      return storage.withTenant(tenantId, async (tx) => {
        const row = await sessionStore.byAccessHash(tx, tenantId, hashToken(token));
        if (!row || row.revoked_at !== null || row.access_expires_at <= now) return undefined;
        if (now - row.last_used_at >= (await tokenSettings(tx, tenantId)).idleTimeout * 1000)
          return undefined;
        // The scope the token acts with now, as the auth hook would judge it (narrowed while consent is owed).
        const consentRequired = row.user_id !== null && (await owesConsent(tx, tenantId, row.user_id));
        return {
          sessionId: row.id,
          userId: row.user_id,
          clientId: row.client_id,
          scope: effectiveScopes(parseScopes(row.scopes), consentRequired).join(' '),
          expiresAt: row.access_expires_at,
        };
      });
    },
  };
}
