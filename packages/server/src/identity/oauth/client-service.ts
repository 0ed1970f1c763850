import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Scope } from '@parley/protocol';
import type { Clock } from '../../clock.ts';
import type { AuditLog } from '../../compliance/audit/audit-log.ts';
import type { RequestContext } from '../../compliance/audit/request-context.ts';
import { hashToken, tokenPrefixes } from '../../crypto/token.ts';
import { newId } from '../../ids.ts';
import type { Storage } from '../../storage/database.ts';
import { type IssuedTokens, parseScopes, type SessionService } from '../sessions/session-service.ts';

const clientIdPattern = /^([0-9a-f-]{36})\.([0-9a-f-]{36})$/;

/**
 * OAuth clients of a tenant's own servers (client_credentials). The id is `<tenant id>.<client uuid>`, so
 * the grant can find its tenant; the secret is 256 random bits, stored as a SHA-256 hash (high entropy
 * needs no slow hash).
 */
export function createClientService(deps: {
  storage: Storage;
  sessions: SessionService;
  audit: AuditLog;
  clock: Clock;
}) {
  const { storage, sessions, audit, clock } = deps;
  return {
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
