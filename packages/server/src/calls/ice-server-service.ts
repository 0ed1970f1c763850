import { createHmac } from 'node:crypto';
import type { IceServer, IceServersResponse } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { Counter } from '../counters/counter.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Storage } from '../storage/database.ts';
import { mintTurnCredential } from './turn-credentials.ts';

/** The deployment's ICE settings (`PARLEY_STUN_URLS`, `PARLEY_TURN_*`). */
export interface IceServerSettings {
  stunUrls: readonly string[];
  turnUrls: readonly string[];
  /** Shared with the TURN server; unset = no TURN. Never logged, never returned. */
  turnSecret: string | undefined;
  turnTtlSeconds: number;
}

/**
 * A client fetches once per call and again before its credentials expire (ICE restarts); a few dozen a
 * minute covers a person redialling, anything above is a script minting relay credentials.
 */
const requestsPerWindow = 30;
const windowMs = 60_000;

/** Domain separation under the tenant index key: a handle never equals a blind index or search token. */
const handleLabel = 'turn-user:';
/** 96 bits: unique among a tenant's users; short enough for TURN server logs. */
const handleBytes = 12;

/**
 * ICE servers for `RTCPeerConnection`: the configured STUN URLs, and the TURN URLs with credentials minted
 * for the caller. The TURN username names the caller by an opaque handle (HMAC of the user id under the
 * tenant's index key), never by the user id or anything personal: TURN servers log usernames. The handle is
 * stable per user, so a TURN server can apply per-user quotas, and means nothing without the tenant key.
 */
export function createIceServerService(deps: {
  storage: Storage;
  keyring: Keyring;
  counter: Counter;
  clock: Clock;
  settings: IceServerSettings;
}) {
  const { storage, keyring, counter, clock, settings } = deps;
  const turnSecret = settings.turnUrls.length > 0 ? settings.turnSecret : undefined;

  const userHandle = (tenantId: string, userId: string) =>
    storage.withTenant(tenantId, async (tx) => {
      const { key } = await keyring.tenantKey(tx, tenantId, 'index');
      return createHmac('sha256', key)
        .update(handleLabel + userId)
        .digest()
        .subarray(0, handleBytes)
        .toString('base64url');
    });

  return {
    async forUser(tenantId: string, userId: string): Promise<IceServersResponse> {
      const used = await counter.increment(`ice-servers:${tenantId}:${userId}`, windowMs);
      if (used > requestsPerWindow)
        throw new AppError('rate_limited', undefined, { 'retry-after': String(windowMs / 1000) });
      const iceServers: IceServer[] = [];
      if (settings.stunUrls.length > 0) iceServers.push({ urls: [...settings.stunUrls] });
      if (turnSecret === undefined)
        return { iceServers, expiresAt: null, ttlSeconds: settings.turnTtlSeconds };
      const { username, credential, expiresAt } = mintTurnCredential(
        turnSecret,
        await userHandle(tenantId, userId),
        new Date(clock.now() + settings.turnTtlSeconds * 1000),
      );
      iceServers.push({ urls: [...settings.turnUrls], username, credential });
      return { iceServers, expiresAt: expiresAt.toISOString(), ttlSeconds: settings.turnTtlSeconds };
    },
  };
}

export type IceServerService = ReturnType<typeof createIceServerService>;
