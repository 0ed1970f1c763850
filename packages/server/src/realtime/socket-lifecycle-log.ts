import type { WebSocket } from 'ws';
import type { Logger } from '../observability/logger.ts';

/** What a socket's log lines may name: its id and, once signed in, its tenant. */
export interface LoggedSocket {
  readonly id: string;
  readonly tenantId: string | undefined;
}

/**
 * One line when a realtime socket opens and one when it closes (its close code and how long it lived), so an
 * operator can follow connections and reconnect storms. No personal data: no address, token, user id or
 * close reason (the client writes the reason); the socket id is the device id the client itself was given.
 */
export function logSocketLifecycle(ws: WebSocket, socket: LoggedSocket, logger: Logger): void {
  const opened = performance.now();
  logger.info({ connectionId: socket.id }, 'realtime socket opened');
  ws.once('close', (code: number) => {
    logger.info(
      {
        connectionId: socket.id,
        tenantId: socket.tenantId,
        signedIn: socket.tenantId !== undefined,
        closeCode: code,
        durationMs: Math.round(performance.now() - opened),
      },
      'realtime socket closed',
    );
  });
}
