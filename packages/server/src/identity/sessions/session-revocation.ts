import type { AuditInput } from '../../compliance/audit/audit-entry.ts';
import type { AuditLog } from '../../compliance/audit/audit-log.ts';
import type { Clock } from '../../clock.ts';
import { hashToken, tenantOfToken } from '../../crypto/token.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { SessionEviction } from './session-eviction.ts';
import { sessionStore } from './session-store.ts';

/**
 * Every ended session is an audit entry, in the transaction that ended it. Shared with issuing and
 * validation, which end sessions too (refresh-token reuse, idle timeout).
 */
export async function recordRevocation(
  audit: AuditLog,
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

export interface SessionRevocationDeps {
  storage: Storage;
  clock: Clock;
  audit: AuditLog;
  eviction: SessionEviction;
}

/**
 * Ending sessions and invalidating cached principals on request. Each call writes the change and its audit
 * entry in one transaction, then announces the eviction after commit, so no node keeps honouring a token the
 * database has already ended.
 */
export function createSessionRevocation({ storage, clock, audit, eviction }: SessionRevocationDeps) {
  return {
    /** RFC 7009: revokes the session behind an access or refresh token; unknown tokens are not an error. */
    revokeToken: async (token: string): Promise<void> => {
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
        await recordRevocation(audit, tx, tenantId, [row.id], 'token_revoked', {
          type: row.user_id === null ? 'client' : 'user',
          id: row.user_id ?? row.client_id ?? undefined,
          sessionId: row.id,
        });
        return row.id;
      });
      if (sessionId !== undefined) await eviction.announce([sessionId]);
    },

    /** Ends one session or all of a user's sessions (optionally all but the caller's own). */
    revokeUserSessions: async (
      tenantId: string,
      userId: string,
      options: { only?: string; except?: string; reason: string; actor?: AuditInput['actor'] },
    ) => {
      const revoked = await storage.withTenant(tenantId, async (tx) => {
        const ids = await endUserSessions(tx, tenantId, userId, options);
        if (ids.length > 0) {
          await recordRevocation(
            audit,
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
      await eviction.announce(revoked);
      return revoked;
    },

    /**
     * Ends every live session of a user inside the caller's transaction, audited there, so the act that
     * ends them (a restriction) cannot commit without it. The caller passes the ids to `announceEnded` once
     * its transaction committed: then every node closes their sockets.
     */
    endUserSessionsIn: async (
      tx: TenantTx,
      tenantId: string,
      userId: string,
      reason: string,
      actor: AuditInput['actor'],
    ): Promise<string[]> => {
      const ids = await sessionStore.revokeForUser(tx, tenantId, userId, clock.now(), reason);
      if (ids.length > 0) await recordRevocation(audit, tx, tenantId, ids, reason, actor, userId);
      return ids;
    },

    /** Evicts sessions ended by `endUserSessionsIn` on every node; resolves once every node did. */
    announceEnded: (sessionIds: string[]): Promise<void> => eviction.announce(sessionIds),

    /** Call after redefining a custom role: every cached principal of the tenant is rebuilt. */
    refreshTenantPrincipals: async (tenantId: string): Promise<void> => {
      await eviction.announceTenant(tenantId);
    },

    /** Call after changing a user's roles: cached principals of that user must be rebuilt. */
    refreshPrincipalsOf: async (tenantId: string, userId: string): Promise<void> => {
      const sessions = await storage.withTenant(tenantId, (tx) =>
        sessionStore.activeForUser(tx, tenantId, userId, clock.now()),
      );
      await eviction.announce(
        sessions.map((row) => row.id),
        'changed',
      );
    },
  };

  /** Marks the chosen sessions revoked and says which; `only` must be one of the user's live sessions. */
  async function endUserSessions(
    tx: TenantTx,
    tenantId: string,
    userId: string,
    options: { only?: string; except?: string; reason: string },
  ): Promise<string[]> {
    if (options.only !== undefined) {
      const rows = await sessionStore.activeForUser(tx, tenantId, userId, clock.now());
      if (!rows.some((row) => row.id === options.only)) return [];
      await sessionStore.update(tx, tenantId, options.only, {
        revoked_at: clock.now(),
        revoked_reason: options.reason,
      });
      return [options.only];
    }
    return sessionStore.revokeForUser(tx, tenantId, userId, clock.now(), options.reason, options.except);
  }
}

export type SessionRevocation = ReturnType<typeof createSessionRevocation>;
