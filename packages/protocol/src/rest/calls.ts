import { z } from 'zod';

/**
 * One entry of `RTCConfiguration.iceServers`. STUN entries have no credentials; TURN entries carry a
 * short-lived username and credential (the TURN REST API scheme: `username` is `<expiry unix seconds>:<opaque
 * handle>`, `credential` is base64 HMAC-SHA1 of the username under the secret Parley shares with the TURN
 * server). Hand the array to `new RTCPeerConnection({ iceServers })` as it is.
 */
export const iceServer = z
  .object({
    urls: z.array(z.string()),
    username: z.string().optional(),
    credential: z.string().optional(),
  })
  .meta({ id: 'IceServer' });
export type IceServer = z.infer<typeof iceServer>;

/**
 * `GET /v1/calls/ice-servers`. Empty `iceServers` when the deployment configures neither STUN nor TURN (peers
 * then connect only where host candidates reach each other). Fetch again before `expiresAt`: a TURN server
 * refuses new allocations (and ICE restarts) with expired credentials, though an allocation made in time
 * lives on.
 */
export const iceServersResponse = z
  .object({
    iceServers: z.array(iceServer),
    /** When the TURN credentials stop working for new allocations (ISO 8601); null when there is no TURN. */
    expiresAt: z.string().nullable(),
    /** The configured credential lifetime in seconds. */
    ttlSeconds: z.number().int(),
  })
  .meta({ id: 'IceServers' });
export type IceServersResponse = z.infer<typeof iceServersResponse>;
