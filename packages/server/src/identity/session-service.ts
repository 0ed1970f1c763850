import {
  type Permission,
  type Scope,
  permissions as allPermissions,
  scopes as allScopes,
} from '@parley/protocol';
import { permissionsOf } from '../access/roles.ts';
import type { Bus } from '../bus/bus.ts';
import type { Clock } from '../clock.ts';
import type { AuditInput } from '../compliance/audit/audit-entry.ts';
import type { AuditLog } from '../compliance/audit/audit-log.ts';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import { hashToken, mintTenantToken, tenantOfToken } from '../crypto/token.ts';
import { newId } from '../ids.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import { PrincipalCache } from './principal-cache.ts';
import { type Eviction, type EvictionEffect, RevocationBroadcast } from './revocation-broadcast.ts';
import { type SessionRow, sessionStore } from './session-store.ts';
import { userStore } from './user-store.ts';

/** Who is calling: resolved from a bearer token on every request. */
export interface Principal {
  tenantId: string;
  sessionId: string;
  /** Null for a tenant's server (client_credentials). */
  userId: string | null;
  clientId: string | null;
  roles: readonly string[];
  permissions: ReadonlySet<Permission>;
  scopes: ReadonlySet<Scope>;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken?: string;
  expiresIn: number;
  scope: string;
  sessionId: string;
}

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

/** Why a refresh failed, in RFC 6749 terms; `reused` revokes the whole family. */
export type RefreshFailure = 'invalid_grant' | 'reused';

/**
 * What a tenant's own server (client_credentials) may never do: change tenant security settings, roles,
 * API clients or anyone's MFA. Those stay with people, whose acts are tied to a person in the audit log.
 */
const CLIENT_WITHHELD: readonly Permission[] = [
  'tenant.manage',
  'roles.manage',
  'clients.manage',
  'mfa.reset',
];

/**
 * Last-use times are written at most this often (a quarter of the idle timeout when that is shorter): idle
 * timeouts are minutes, writes per request are waste, and another node judging idleness from the database
 * is then off by at most this much.
 */
const LAST_USED_WRITE_INTERVAL_MS = 30_000;

const DEFAULT_SETTINGS = { accessTtl: 3600, idleTimeout: 900, refreshTtl: 2_592_000 };

export interface SessionServiceDeps {
  storage: Storage;
  bus: Bus;
  clock: Clock;
  fieldCipher: FieldCipher;
  audit: AuditLog;
  /** Told when some node did not confirm a revocation in time (it may be partitioned from Redis). */
  onUnconfirmedRevocation?: (missing: number) => void;
}

/** Where a session was opened from: personal data, sealed with the tenant key. */
export interface SessionDevice {
  userAgent?: string | undefined;
  ip?: string | undefined;
}

export function parseScopes(scope: string | undefined): Scope[] {
  const requested = (scope ?? '').split(' ').filter(Boolean);
  return [...new Set(requested)].filter((entry): entry is Scope =>
    (allScopes as readonly string[]).includes(entry),
  );
}

/**
 * Opaque, scoped, revocable session tokens. Validated tokens are cached in memory for speed; a revocation
 * is broadcast on the bus and evicts them on every node, and while the bus may be missing messages the
 * cache is bypassed, so a revoked token never works anywhere.
 */
export function createSessionService({
  storage,
  bus,
  clock,
  fieldCipher,
  audit,
  onUnconfirmedRevocation = () => undefined,
}: SessionServiceDeps) {
  const deviceLocation = (tenantId: string, sessionId: string) => ({
    tenantId,
    table: 'sessions',
    column: 'device',
    rowId: sessionId,
  });
  const cache = new PrincipalCache();
  /** Holders of long-lived grants (realtime sockets): told of every eviction, synchronously. */
  const evictionListeners = new Set<(eviction: Eviction) => void>();
  function evictLocally(eviction: Eviction): void {
    if (eviction.sessionIds) cache.evictSessions(eviction.sessionIds);
    if (eviction.tenantId !== undefined) cache.evictTenant(eviction.tenantId);
    for (const listener of evictionListeners) listener(eviction);
  }
  bus.onReliabilityChange((reliable) => {
    cache.clear();
    // Evictions may have been missed during the gap: every open grant is checked again before it is used.
    if (reliable) for (const listener of evictionListeners) listener({ everyone: true, effect: 'changed' });
  });
  // Every node (this one included) applies an eviction before acknowledging it, so once `announce` returns
  // the cache entries are gone and the sockets of ended sessions are closed everywhere.
  const broadcast = RevocationBroadcast.start(bus, evictLocally, onUnconfirmedRevocation);
  // Subscribing cannot fail for good (the Redis subscriber waits); this only keeps a rejection handled.
  broadcast.catch(() => undefined);

  async function tokenSettings(tx: TenantTx, tenantId: string) {
    const row = await sessionStore.settings(tx, tenantId);
    return row
      ? {
          accessTtl: row.access_token_ttl_seconds,
          idleTimeout: row.idle_timeout_seconds,
          refreshTtl: row.refresh_token_ttl_seconds,
        }
      : DEFAULT_SETTINGS;
  }

  async function principalFor(tx: TenantTx, row: SessionRow): Promise<Principal> {
    const roles = row.user_id === null ? [] : await userStore.roles(tx, row.tenant_id, row.user_id);
    const custom = await sessionStore.customRoles(tx, row.tenant_id);
    const customMap = new Map(
      custom.map((role) => [role.name, JSON.parse(role.permissions) as Permission[]]),
    );
    const scopes = new Set(parseScopes(row.scopes));
    // A tenant's own server acts for the tenant: its scopes are its limits; it has no user roles.
    const granted =
      row.user_id === null
        ? new Set<Permission>(allPermissions.filter((permission) => !CLIENT_WITHHELD.includes(permission)))
        : permissionsOf(roles, customMap);
    return {
      tenantId: row.tenant_id,
      sessionId: row.id,
      userId: row.user_id,
      clientId: row.client_id,
      roles,
      permissions: granted,
      scopes,
    };
  }

  /** Every ended session is an audit entry, in the transaction that ended it. */
  async function recordRevocation(
    tx: TenantTx,
    tenantId: string,
    sessionIds: string[],
    reason: string,
    actor: AuditInput['actor'],
    userId?: string | null,
  ): Promise<void> {
    await audit.append(tx, tenantId, {
      actor,
      action: 'auth.sessions_revoked',
      target: { type: 'user', id: userId ?? actor.id ?? 'unknown' },
      outcome: 'success',
      details: { reason, sessionIds },
    });
  }

  async function announceRevocation(sessionIds: string[], effect: EvictionEffect = 'ended'): Promise<void> {
    if (sessionIds.length === 0) return;
    // Here first, so this node is done even if the bus fails; applying an eviction twice is harmless.
    evictLocally({ sessionIds, effect });
    await (await broadcast).announce({ sessionIds, effect });
  }

  const service = {
    /** Issues an access token (and a refresh token for users) in the caller's transaction. */
    async issue(
      tx: TenantTx,
      grant: {
        tenantId: string;
        userId: string | null;
        clientId: string | null;
        scopes: readonly Scope[];
        device: SessionDevice | null;
      },
    ): Promise<IssuedTokens> {
      const settings = await tokenSettings(tx, grant.tenantId);
      const now = clock.now();
      const accessToken = mintTenantToken('access', grant.tenantId);
      const refreshToken = grant.userId === null ? undefined : mintTenantToken('refresh', grant.tenantId);
      const sessionId = newId();
      await sessionStore.insert(tx, {
        id: sessionId,
        tenant_id: grant.tenantId,
        user_id: grant.userId,
        client_id: grant.clientId,
        scopes: grant.scopes.join(' '),
        access_token_hash: hashToken(accessToken),
        access_expires_at: now + settings.accessTtl * 1000,
        refresh_token_hash: refreshToken === undefined ? null : hashToken(refreshToken),
        refresh_expires_at: refreshToken === undefined ? null : now + settings.refreshTtl * 1000,
        device:
          grant.device === null
            ? null
            : await fieldCipher.sealForTenant(
                tx,
                deviceLocation(grant.tenantId, sessionId),
                JSON.stringify(grant.device),
              ),
        created_at: now,
        last_used_at: now,
        revoked_at: null,
        revoked_reason: null,
      });
      return {
        accessToken,
        ...(refreshToken === undefined ? {} : { refreshToken }),
        expiresIn: settings.accessTtl,
        scope: grant.scopes.join(' '),
        sessionId,
      };
    },

    /** Resolves a bearer token; the hot path is one hash and one map lookup. */
    async authenticate(token: string): Promise<Principal | AuthFailure> {
      const grant = await service.validate(token);
      return typeof grant === 'string' ? grant : grant.principal;
    },

    /**
     * `authenticate`, with the token's expiry and the session's idle deadline. With `touch: false` the
     * check is not a use of the session (a realtime `ping` is liveness, not activity): it does not move
     * the idle deadline, though a session found idle still ends.
     */
    async validate(token: string, { touch = true } = {}): Promise<SessionGrant | AuthFailure> {
      const hash = hashToken(token);
      const now = clock.now();
      const cached = bus.reliable ? cache.get(hash) : undefined;
      if (cached && cached.accessExpiresAt > now && now - cached.lastUsedAt < cached.idleTimeoutMs) {
        if (touch) {
          cached.lastUsedAt = now;
          const interval = Math.min(LAST_USED_WRITE_INTERVAL_MS, cached.idleTimeoutMs / 4);
          if (now - cached.persistedLastUsedAt > interval) persistLastUse(cached.principal, now);
        }
        const { principal, accessExpiresAt, idleTimeoutMs, lastUsedAt } = cached;
        return { principal, accessExpiresAt, idleTimeoutMs, lastUsedAt, checkedAt: now };
      }
      const tenantId = tenantOfToken('access', token);
      if (tenantId === undefined) return 'invalid';
      const generation = cache.generation;
      const result = await storage.withTenant(tenantId, async (tx) => {
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
          await recordRevocation(tx, tenantId, [row.id], 'idle_timeout', { type: 'system' }, row.user_id);
          return { kind: 'idle' as const, sessionId: row.id };
        }
        if (touch) await sessionStore.update(tx, tenantId, row.id, { last_used_at: now });
        return {
          kind: 'ok' as const,
          principal: await principalFor(tx, row),
          row,
          idleTimeoutMs: settings.idleTimeout * 1000,
          lastUsedAt: touch ? now : row.last_used_at,
        };
      });
      if (typeof result === 'string') return result;
      if (result.kind === 'idle') {
        await announceRevocation([result.sessionId]);
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

    /** Tells `listener` of every eviction this node applies, before it acknowledges; returns the stop. */
    onEviction(listener: (eviction: Eviction) => void): () => void {
      evictionListeners.add(listener);
      return () => {
        evictionListeners.delete(listener);
      };
    },

    /** Rotates a refresh token. Presenting an already-used one revokes the whole family (it was stolen). */
    async refresh(
      refreshToken: string,
      requested?: readonly Scope[],
    ): Promise<IssuedTokens | RefreshFailure> {
      const tenantId = tenantOfToken('refresh', refreshToken);
      if (tenantId === undefined) return 'invalid_grant';
      const hash = hashToken(refreshToken);
      const now = clock.now();
      const outcome = await storage.withTenant(tenantId, async (tx) => {
        // Locked on PostgreSQL: of two simultaneous refreshes with one token, the second waits, then no
        // longer finds the (rotated) hash and is judged a replay below.
        const row = await sessionStore.byRefreshHash(tx, tenantId, hash, storage.dialect);
        if (!row) {
          const replayedSession = await sessionStore.usedRefresh(tx, tenantId, hash);
          if (replayedSession === undefined)
            return { kind: 'failed' as const, failure: 'invalid_grant' as const, revoked: [] };
          await sessionStore.update(tx, tenantId, replayedSession, {
            revoked_at: now,
            revoked_reason: 'refresh_token_reuse',
          });
          const replayed = await tx
            .selectFrom('sessions')
            .select('user_id')
            .where('id', '=', replayedSession)
            .executeTakeFirst();
          await recordRevocation(
            tx,
            tenantId,
            [replayedSession],
            'refresh_token_reuse',
            { type: 'system' },
            replayed?.user_id,
          );
          return { kind: 'failed' as const, failure: 'reused' as const, revoked: [replayedSession] };
        }
        if (row.revoked_at !== null || (row.refresh_expires_at ?? 0) <= now)
          return { kind: 'failed' as const, failure: 'invalid_grant' as const, revoked: [] };
        const idleTimeoutMs = (await tokenSettings(tx, tenantId)).idleTimeout * 1000;
        if (now - row.last_used_at >= idleTimeoutMs) {
          // Automatic log-off cannot be undone by refreshing later.
          await sessionStore.update(tx, tenantId, row.id, {
            revoked_at: now,
            revoked_reason: 'idle_timeout',
          });
          await recordRevocation(tx, tenantId, [row.id], 'idle_timeout', { type: 'system' }, row.user_id);
          return { kind: 'failed' as const, failure: 'invalid_grant' as const, revoked: [row.id] };
        }
        const current = parseScopes(row.scopes);
        if (requested && requested.some((scope) => !current.includes(scope)))
          return { kind: 'failed' as const, failure: 'invalid_grant' as const, revoked: [] };
        const settings = await tokenSettings(tx, tenantId);
        const accessToken = mintTenantToken('access', tenantId);
        const nextRefresh = mintTenantToken('refresh', tenantId);
        const scopes = requested ?? current;
        await sessionStore.markRefreshUsed(tx, tenantId, hash, row.id, now);
        await sessionStore.update(tx, tenantId, row.id, {
          access_token_hash: hashToken(accessToken),
          access_expires_at: now + settings.accessTtl * 1000,
          refresh_token_hash: hashToken(nextRefresh),
          last_used_at: now,
          scopes: scopes.join(' '),
        });
        return {
          kind: 'issued' as const,
          tokens: {
            accessToken,
            refreshToken: nextRefresh,
            expiresIn: settings.accessTtl,
            scope: scopes.join(' '),
            sessionId: row.id,
          },
          revoked: [row.id],
        };
      });
      // The previous access token of this session is dead too (replaced or revoked): evict it everywhere.
      await announceRevocation(outcome.revoked, outcome.kind === 'issued' ? 'replaced' : 'ended');
      return outcome.kind === 'issued' ? outcome.tokens : outcome.failure;
    },

    /**
     * RFC 7662 introspection for a caller of `tenantId`: read-only (it must not keep someone's session alive
     * or end it), and another tenant's token is inactive before any database access.
     */
    async inspect(token: string, callerTenantId: string) {
      const tenantId = tenantOfToken('access', token);
      if (tenantId !== callerTenantId) return undefined;
      const now = clock.now();
      return storage.withTenant(tenantId, async (tx) => {
        const row = await sessionStore.byAccessHash(tx, tenantId, hashToken(token));
        if (!row || row.revoked_at !== null || row.access_expires_at <= now) return undefined;
        if (now - row.last_used_at >= (await tokenSettings(tx, tenantId)).idleTimeout * 1000)
          return undefined;
        return {
          sessionId: row.id,
          userId: row.user_id,
          clientId: row.client_id,
          scope: row.scopes,
          expiresAt: row.access_expires_at,
        };
      });
    },

    /** RFC 7009: revokes the session behind an access or refresh token; unknown tokens are not an error. */
    async revokeToken(token: string): Promise<void> {
      const kind = token.startsWith('parley_rt_') ? 'refresh' : 'access';
      const tenantId = tenantOfToken(kind, token);
      if (tenantId === undefined) return;
      const hash = hashToken(token);
      const sessionId = await storage.withTenant(tenantId, async (tx) => {
        const row =
          kind === 'refresh'
            ? await sessionStore.byRefreshHash(tx, tenantId, hash)
            : await sessionStore.byAccessHash(tx, tenantId, hash);
        if (!row || row.revoked_at !== null) return undefined;
        await sessionStore.update(tx, tenantId, row.id, {
          revoked_at: clock.now(),
          revoked_reason: 'revoked',
        });
        await recordRevocation(tx, tenantId, [row.id], 'token_revoked', {
          type: row.user_id === null ? 'client' : 'user',
          id: row.user_id ?? row.client_id ?? undefined,
          sessionId: row.id,
        });
        return row.id;
      });
      if (sessionId !== undefined) await announceRevocation([sessionId]);
    },

    /** Ends one session or all of a user's sessions (optionally all but the caller's own). */
    async revokeUserSessions(
      tenantId: string,
      userId: string,
      options: { only?: string; except?: string; reason: string; actor?: AuditInput['actor'] },
    ) {
      const revoked = await storage.withTenant(tenantId, async (tx) => {
        let ids: string[];
        if (options.only !== undefined) {
          const rows = await sessionStore.activeForUser(tx, tenantId, userId, clock.now());
          if (!rows.some((row) => row.id === options.only)) return [];
          await sessionStore.update(tx, tenantId, options.only, {
            revoked_at: clock.now(),
            revoked_reason: options.reason,
          });
          ids = [options.only];
        } else {
          ids = await sessionStore.revokeForUser(
            tx,
            tenantId,
            userId,
            clock.now(),
            options.reason,
            options.except,
          );
        }
        if (ids.length > 0) {
          await recordRevocation(
            tx,
            tenantId,
            ids,
            options.reason,
            options.actor ?? { type: 'user', id: userId },
            userId,
          );
        }
        return ids;
      });
      await announceRevocation(revoked);
      return revoked;
    },

    /** Call after redefining a custom role: every cached principal of the tenant is rebuilt. */
    async refreshTenantPrincipals(tenantId: string): Promise<void> {
      evictLocally({ tenantId, effect: 'changed' });
      await (await broadcast).announce({ tenantId, effect: 'changed' });
    },

    /** Call after changing a user's roles: cached principals of that user must be rebuilt. */
    async refreshPrincipalsOf(tenantId: string, userId: string): Promise<void> {
      const sessions = await storage.withTenant(tenantId, (tx) =>
        sessionStore.activeForUser(tx, tenantId, userId, clock.now()),
      );
      await announceRevocation(
        sessions.map((row) => row.id),
        'changed',
      );
    },

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
              row.device === null
                ? null
                : (JSON.parse(
                    await fieldCipher.open(tx, deviceLocation(tenantId, row.id), row.device),
                  ) as SessionDevice),
          })),
        );
      });
    },
  };

  function persistLastUse(principal: Principal, now: number): void {
    const entry = cache.peekSession(principal.sessionId);
    if (entry) entry.persistedLastUsedAt = now;
    storage
      .withTenant(principal.tenantId, (tx) =>
        sessionStore.update(tx, principal.tenantId, principal.sessionId, { last_used_at: now }),
      )
      .catch(() => undefined);
  }

  return service;
}

export type SessionService = ReturnType<typeof createSessionService>;
