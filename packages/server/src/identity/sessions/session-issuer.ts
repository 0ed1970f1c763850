import type { Scope } from '@parley/protocol';
import type { AuditLog } from '../../compliance/audit/audit-log.ts';
import type { Clock } from '../../clock.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import { hashToken, mintTenantToken, tenantOfToken } from '../../crypto/token.ts';
import { newId } from '../../ids.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import { type ConsentCheck, effectiveScopes, parseScopes } from './principal-resolver.ts';
import { sealDevice, type SessionDevice } from './session-device.ts';
import type { SessionEviction } from './session-eviction.ts';
import { recordRevocation } from './session-revocation.ts';
import { tokenSettings } from './session-settings.ts';
import { type SessionRow, sessionStore } from './session-store.ts';

export interface IssuedTokens {
  accessToken: string;
  refreshToken?: string;
  expiresIn: number;
  /** The scopes the token acts with now (see `effectiveScopes`), which may be fewer than the session's. */
  scope: string;
  sessionId: string;
  /** The user owes acceptance of a required processing purpose: the token acts as `profile` only until then. */
  notice?: 'consent_required';
}

/** Why a refresh failed, in RFC 6749 terms; `reused` revokes the whole family. */
export type RefreshFailure = 'invalid_grant' | 'reused';

/** A refresh's result inside its transaction, with the sessions whose cached tokens must go after commit. */
type RefreshOutcome =
  | { kind: 'failed'; failure: RefreshFailure; revoked: string[] }
  | { kind: 'issued'; tokens: IssuedTokens; revoked: string[] };

export interface SessionIssuerDeps {
  storage: Storage;
  clock: Clock;
  fieldCipher: FieldCipher;
  audit: AuditLog;
  eviction: SessionEviction;
  owesConsent: ConsentCheck;
}

/**
 * Minting tokens: opening a session and rotating its refresh token. Only hashes are stored; the plain
 * tokens exist in the answer alone.
 */
export function createSessionIssuer({
  storage,
  clock,
  fieldCipher,
  audit,
  eviction,
  owesConsent,
}: SessionIssuerDeps) {
  /**
   * What the answer says of the scopes: the session keeps those it was granted, but while its user owes
   * consent the token acts with `profile` only (the auth hook refuses the rest with `consent_required`), and
   * regains the rest the moment the user accepts; a refresh then reports them again.
   */
  async function actingScopes(
    tx: TenantTx,
    tenantId: string,
    userId: string | null,
    scopes: readonly Scope[],
  ): Promise<Pick<IssuedTokens, 'scope' | 'notice'>> {
    const consentRequired = userId !== null && (await owesConsent(tx, tenantId, userId));
    return {
      scope: effectiveScopes(scopes, consentRequired).join(' '),
      ...(consentRequired ? { notice: 'consent_required' as const } : {}),
    };
  }

  /**
   * A refresh token that is no longer current but was once: it was used already, so someone holds a copy.
   * The session it belonged to ends, whoever presented it.
   */
  async function revokeReplayed(
    tx: TenantTx,
    tenantId: string,
    hash: string,
    now: number,
  ): Promise<RefreshOutcome> {
    const replayedSession = await sessionStore.usedRefresh(tx, tenantId, hash);
    if (replayedSession === undefined) return { kind: 'failed', failure: 'invalid_grant', revoked: [] };
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
      audit,
      tx,
      tenantId,
      [replayedSession],
      'refresh_token_reuse',
      { type: 'system' },
      replayed?.user_id,
    );
    return { kind: 'failed', failure: 'reused', revoked: [replayedSession] };
  }

  /** Judges a current refresh token's session and, if it may go on, gives it a new token pair. */
  async function rotate(
    tx: TenantTx,
    tenantId: string,
    row: SessionRow,
    hash: string,
    requested: readonly Scope[] | undefined,
    now: number,
  ): Promise<RefreshOutcome> {
    if (row.revoked_at !== null || (row.refresh_expires_at ?? 0) <= now)
      return { kind: 'failed', failure: 'invalid_grant', revoked: [] };
    const idleTimeoutMs = (await tokenSettings(tx, tenantId)).idleTimeout * 1000;
    if (now - row.last_used_at >= idleTimeoutMs) {
      // Automatic log-off cannot be undone by refreshing later.
      await sessionStore.update(tx, tenantId, row.id, {
        revoked_at: now,
        revoked_reason: 'idle_timeout',
      });
      await recordRevocation(audit, tx, tenantId, [row.id], 'idle_timeout', { type: 'system' }, row.user_id);
      return { kind: 'failed', failure: 'invalid_grant', revoked: [row.id] };
    }
    const current = parseScopes(row.scopes);
    if (requested && requested.some((scope) => !current.includes(scope)))
      return { kind: 'failed', failure: 'invalid_grant', revoked: [] };
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
    const tokens = {
      accessToken,
      refreshToken: nextRefresh,
      expiresIn: settings.accessTtl,
      sessionId: row.id,
      ...(await actingScopes(tx, tenantId, row.user_id, scopes)),
    };
    return { kind: 'issued', tokens, revoked: [row.id] };
  }

  return {
    /** Issues an access token (and a refresh token for users) in the caller's transaction. */
    issue: async (
      tx: TenantTx,
      grant: {
        tenantId: string;
        userId: string | null;
        clientId: string | null;
        scopes: readonly Scope[];
        device: SessionDevice | null;
      },
    ): Promise<IssuedTokens> => {
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
            : await sealDevice(fieldCipher, tx, grant.tenantId, sessionId, grant.device),
        created_at: now,
        last_used_at: now,
        revoked_at: null,
        revoked_reason: null,
      });
      return {
        accessToken,
        ...(refreshToken === undefined ? {} : { refreshToken }),
        expiresIn: settings.accessTtl,
        sessionId,
        ...(await actingScopes(tx, grant.tenantId, grant.userId, grant.scopes)),
      };
    },

    /** Rotates a refresh token. Presenting an already-used one revokes the whole family (it was stolen). */
    refresh: async (
      refreshToken: string,
      requested?: readonly Scope[],
    ): Promise<IssuedTokens | RefreshFailure> => {
      const tenantId = tenantOfToken('refresh', refreshToken);
      if (tenantId === undefined) return 'invalid_grant';
      const hash = hashToken(refreshToken);
      const now = clock.now();
      const outcome = await storage.withTenant(tenantId, async (tx) => {
        // Locked on PostgreSQL: of two simultaneous refreshes with one token, the second waits, then no
        // longer finds the (rotated) hash and is judged a replay below.
        const row = await sessionStore.byRefreshHash(tx, tenantId, hash, storage.dialect);
        return row
          ? rotate(tx, tenantId, row, hash, requested, now)
          : revokeReplayed(tx, tenantId, hash, now);
      });
      // The previous access token of this session is dead too (replaced or revoked): evict it everywhere.
      await eviction.announce(outcome.revoked, outcome.kind === 'issued' ? 'replaced' : 'ended');
      return outcome.kind === 'issued' ? outcome.tokens : outcome.failure;
    },
  };
}
