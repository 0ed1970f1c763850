import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { closeCodes } from '@parley/protocol';
import { WebSocketServer, type WebSocket } from 'ws';
import { type ConnectionDeps, RealtimeConnection } from './connection.ts';
import { DeliveryHub } from './delivery-hub.ts';
import { refuseHandshake, refuseUpgrade } from './upgrade-refusal.ts';

export const REALTIME_PATH = '/v1/realtime';
const HEARTBEAT_MS = 25_000;

export interface Gateway {
  /** Closes every socket with 1001 (reconnect elsewhere and resume) and stops accepting upgrades. */
  close(): Promise<void>;
  readonly connections: number;
}

/**
 * WSS on the HTTPS server's port at `/v1/realtime`. Frames are capped at `maxFrameBytes` (larger ones close
 * the socket with 1009); dead peers are found by ping/pong heartbeats.
 */
export function attachGateway(
  server: Server,
  options: Omit<ConnectionDeps, 'hub'> & {
    maxFrameBytes: number;
    /** The security headers every response carries, for refused upgrades too. */
    refusalHeaders: Readonly<Record<string, string>>;
  },
): Gateway {
  const hub = new DeliveryHub({
    fanout: options.services.fanout,
    stream: options.services.stream,
    logger: options.logger,
  });
  const deps: ConnectionDeps = { ...options, hub };
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxFrameBytes,
    perMessageDeflate: false,
  });
  wss.on('wsClientError', (error: Error, socket: Duplex) => {
    refuseHandshake(socket, error, options.refusalHeaders);
  });
  const alive = new WeakMap<WebSocket, boolean>();
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '').split('?')[0];
    // Tokens never travel in the URL: a query string here is refused outright.
    if (path !== REALTIME_PATH || (request.url ?? '').includes('?')) {
      refuseUpgrade(socket, 'route_not_found', options.refusalHeaders);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      new RealtimeConnection(ws, socket, deps);
    });
  };
  server.on('upgrade', onUpgrade);
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return {
    get connections() {
      return wss.clients.size;
    },
    async close() {
      clearInterval(heartbeat);
      server.off('upgrade', onUpgrade);
      for (const ws of wss.clients) ws.close(closeCodes.goingAway, 'server shutting down');
      await new Promise<void>((resolve) => {
        wss.close(() => {
          resolve();
        });
      });
    },
  };
}
