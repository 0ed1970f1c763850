import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Scope } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { AuditLog } from '../../compliance/audit/audit-log.ts';
import type { RequestContext } from '../../compliance/audit/request-context.ts';
import { hashToken, tokenPrefixes } from '../../crypto/token.ts';
import { newId } from '../../ids.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import { type IssuedTokens, parseScopes, type SessionService } from '../sessions/session-service.ts';
import { sessionStore } from '../sessions/session-store.ts';

const clientIdPattern = /^([0-9a-f-]{36})\.([0-9a-f-]{36})$/;

/**
 * OAuth clients of a tenant's own servers (client_credentials). The id is `<tenant id>.<client uuid>`, so
 * the grant can find its tenant; the secret is 256 random bits, stored as a SHA-256 hash (high entropy
 * needs no slow hash).
 */
/** A client as the admin API lists it: never its secret (only its hash is stored). */
export interface ClientSummary {
  clientId: string;
  name: string;
  scopes: Scope[];
  createdAt: string;
}

type ClientActor = { userId: string; sessionId: string };

export function createClientService(deps: {
  storage: Storage;
  sessions: SessionService;
  audit: AuditLog;
  clock: Clock;
}) {
  const { storage, sessions, audit, clock } = deps;

  /**
   * Changes a live client of the tenant (`not_found` otherwise: a deleted one, or another tenant's) and ends
   * its sessions, audited in the same transaction; the ended sessions are announced once it committed.
   */
  async function changeLiveClient(
    tenantId: string,
    clientId: string,
    change: (tx: TenantTx) => Promise<void>,
    entry: { action: string; reason: string; actor: ClientActor; context: RequestContext },
  ): Promise<void> {
    const ended = await storage.withTenant(tenantId, async (tx) => {
      const live = await tx
        .selectFrom('oauth_clients')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('id', '=', clientId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (!live) throw new AppError('not_found');
      await change(tx);
      const sessionIds = await sessionStore.revokeForClient(
        tx,
        tenantId,
        clientId,
        clock.now(),
        entry.reason,
      );
      await audit.append(tx, tenantId, {
        actor: { type: 'user', id: entry.actor.userId, sessionId: entry.actor.sessionId },
        action: entry.action,
        target: { type: 'client', id: clientId },
        outcome: 'success',
        ...entry.context,
        details: { sessionsEnded: sessionIds.length },
      });
      return sessionIds;
    });
    await sessions.announceEnded(ended);
  }

  return {
    /** The tenant's live clients, oldest first. */
    async listClients(tenantId: string): Promise<ClientSummary[]> {
      const rows = await storage.withTenant(tenantId, (tx) =>
        tx
          .selectFrom('oauth_clients')
          .select(['id', 'name', 'scopes', 'created_at'])
          .where('tenant_id', '=', tenantId)
          .where('revoked_at', 'is', null)
          .orderBy('created_at')
          .orderBy('id')
          .execute(),
      );
      return rows.map((row) => ({
        clientId: row.id,
        name: row.name,
        scopes: parseScopes(row.scopes),
        createdAt: new Date(row.created_at).toISOString(),
      }));
    },

    /**
     * A new secret, shown once; the old one stops working and the client's tokens end with it (a rotation is
     * usually the answer to a leak, and tokens got with the leaked secret must not outlive it).
     */
    async rotateSecret(
      tenantId: string,
      clientId: string,
      actor: ClientActor,
      context: RequestContext,
    ): Promise<{ clientId: string; clientSecret: string }> {
      const clientSecret = tokenPrefixes.client + randomBytes(32).toString('base64url');
      await changeLiveClient(
        tenantId,
        clientId,
        async (tx) => {
          await tx
            .updateTable('oauth_clients')
            .set({ secret_hash: hashToken(clientSecret) })
            .where('tenant_id', '=', tenantId)
            .where('id', '=', clientId)
            .execute();
        },
        { action: 'client.secret_rotated', reason: 'client_secret_rotated', actor, context },
      );
      return { clientId, clientSecret };
    },

    /** Deletes a client: its secret is refused from now on and its tokens end. The row stays, revoked. */
    async deleteClient(tenantId: string, clientId: string, actor: ClientActor, context: RequestContext) {
      await changeLiveClient(
        tenantId,
        clientId,
        async (tx) => {
          await tx
            .updateTable('oauth_clients')
            .set({ revoked_at: clock.now() })
            .where('tenant_id', '=', tenantId)
            .where('id', '=', clientId)
            .execute();
        },
        { action: 'client.deleted', reason: 'client_deleted', actor, context },
      );
    },

    async createClient(
      tenantId: string,
      name: string,
      scopes: readonly Scope[],
      actor: { userId: string; sessionId: string },
      context: RequestContext,
    ): Promise<{ clientId: string; clientSecret: string }> {
      const clientId = `${tenantId}.${newId()}`;
      const clientSecret = tokenPrefixes.client + randomBytes(32).toString('base64url');
      await storage.withTenant(tenantId, async (tx) => {
        await tx
          .insertInto('oauth_clients')
          .values({
            id: clientId,
            tenant_id: tenantId,
            name,
            secret_hash: hashToken(clientSecret),
            scopes: scopes.join(' '),
            created_at: clock.now(),
            revoked_at: null,
          })
          .execute();
        await audit.append(tx, tenantId, {
          actor: { type: 'user', id: actor.userId, sessionId: actor.sessionId },
          action: 'client.created',
          target: { type: 'client', id: clientId },
          outcome: 'success',
          ...context,
          details: { scopes: [...scopes] },
        });
      });
      return { clientId, clientSecret };
    },

    async grant(
      clientId: string,
      secret: string,
      scope: string | undefined,
      context: RequestContext,
    ): Promise<IssuedTokens | 'invalid_client' | 'invalid_scope'> {
      const tenantId = clientIdPattern.exec(clientId)?.[1];
      if (tenantId === undefined) return 'invalid_client';
      return storage.withTenant(tenantId, async (tx) => {
        const client = await tx
          .selectFrom('oauth_clients')
          .selectAll()
          .where('tenant_id', '=', tenantId)
          .where('id', '=', clientId)
          .executeTakeFirst();
        const presented = Buffer.from(hashToken(secret));
        if (!client) return 'invalid_client';
        if (client.revoked_at !== null || !timingSafeEqual(presented, Buffer.from(client.secret_hash))) {
          await audit.append(tx, tenantId, {
            actor: { type: 'client', id: clientId },
            action: 'auth.client_failed',
            outcome: 'failure',
            ...context,
          });
          return 'invalid_client';
        }
        const allowed = parseScopes(client.scopes);
        const requested = scope === undefined ? allowed : parseScopes(scope);
        if (
          requested.some((entry) => !allowed.includes(entry)) ||
          (scope !== undefined && requested.length === 0)
        )
          return 'invalid_scope';
        const tokens = await sessions.issue(tx, {
          tenantId,
          userId: null,
          clientId,
          scopes: requested,
          device: null,
        });
        await audit.append(tx, tenantId, {
          actor: { type: 'client', id: clientId, sessionId: tokens.sessionId },
          action: 'auth.client_authenticated',
          target: { type: 'session', id: tokens.sessionId },
          outcome: 'success',
          ...context,
        });
        return tokens;
      });
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;
