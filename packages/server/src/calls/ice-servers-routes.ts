import { iceServersResponse } from '@parley/protocol';
import { AppError } from '../app-error.ts';
import { principalOf } from '../http/auth-hook.ts';
import type { RouteDeclaration } from '../http/route-table.ts';
import type { IceServerService } from './ice-server-service.ts';

/** ICE servers for calls. The response carries credentials; like every API response it is `no-store`. */
export function iceServersRoutes(deps: { iceServers: IceServerService }): RouteDeclaration[] {
  return [
    {
      method: 'GET',
      url: '/v1/calls/ice-servers',
      operationId: 'getIceServers',
      summary:
        'STUN and TURN servers for RTCPeerConnection, with TURN credentials for the caller that expire after the configured lifetime.',
      tags: ['calls'],
      access: { kind: 'authenticated', scope: 'calls', permission: 'calls.make' },
      schema: { response: { 200: iceServersResponse } },
      handler: async (request) => {
        const principal = principalOf(request);
        if (principal.userId === null)
          throw new AppError('forbidden', 'Calls are made by users; API clients get no TURN credentials.');
        return deps.iceServers.forUser(principal.tenantId, principal.userId);
      },
    },
  ];
}
