import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { closeCodes } from '@parley/protocol';
import { lacksRequiredHost } from '../http/host-header.ts';
import { requestIdFrom } from '../http/request-id.ts';
import { type ServerOptions, WebSocketServer, type WebSocket } from 'ws';
import { type ConnectionDeps, RealtimeConnection } from './connection.ts';
import { DeliveryHub } from './delivery-hub.ts';
import { logSocketLifecycle } from './socket-lifecycle-log.ts';
import { refuseHandshake, refuseUpgrade } from './upgrade-refusal.ts';

export const REALTIME_PATH = '/v1/realtime';
const HEARTBEAT_MS = 25_000;
/**
 * After the server sends a close frame it waits this long for the client's; then it drops the TCP
 * connection. A client that ignores the close handshake (to hold a socket past the auth timeout or an
 * abuse close) keeps it for this grace at most, instead of `ws`'s default 30 s.
 */
export const CLOSE_GRACE_MS = 1_500;

export interface Gateway {
  /** Closes every socket with 1001 (reconnect elsewhere and resume) and stops accepting upgrades. */
  close(): Promise<void>;
  readonly connections: number;
}

/**
 * WSS on the HTTPS server's port at `/v1/realtime`. Frames are capped at `maxFrameBytes` (larger ones close
 * the socket with 1009); a frame that breaks RFC 6455 closes its socket with 1002 (or 1007 for invalid
 * UTF-8) and nothing else; dead peers are found by ping/pong heartbeats.
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
    metrics: options.metrics.realtime,
  });
  options.services.fanout.onHintsMissed(() => {
    hub.catchUp();
  });
  const deps: ConnectionDeps = { ...options, hub };
  // `closeTimeout` is a recent `ws` option (we require ^8.23, which has it) that @types/ws lacks so far.
  const serverOptions: ServerOptions & { closeTimeout: number } = {
    noServer: true,
    maxPayload: options.maxFrameBytes,
    perMessageDeflate: false,
    closeTimeout: CLOSE_GRACE_MS,
  };
  const wss = new WebSocketServer(serverOptions);
  wss.on('wsClientError', (error: Error, socket: Duplex, request: IncomingMessage) => {
    refuseHandshake(socket, error, options.refusalHeaders, requestIdFrom(request.headers));
  });
  const alive = new WeakMap<WebSocket, boolean>();
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node removes its own 'error' listener from an upgraded socket: without one, a reset (ECONNRESET)
    // arriving while we answer would be an uncaught exception.
    socket.on('error', ignoreSocketError);
    const path = (request.url ?? '').split('?')[0];
    const requestId = requestIdFrom(request.headers);
    // Tokens never travel in the URL: a query string here is refused outright.
    if (path !== REALTIME_PATH || (request.url ?? '').includes('?')) {
      refuseUpgrade(socket, 'route_not_found', options.refusalHeaders, requestId);
      return;
    }
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is refused, an upgrade as much as any other request.
    if (lacksRequiredHost(request)) {
      refuseUpgrade(socket, 'bad_request', options.refusalHeaders, requestId);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      // `ws` has already closed this socket with the matching code (1002, 1007 or 1009) when it emits a
      // protocol error; an 'error' event without a listener would end the process, and every other session.
      ws.on('error', (error: Error & { code?: string }) => {
        options.logger.debug({ wsError: error.code }, 'realtime socket closed on a protocol error');
      });
      logSocketLifecycle(ws, new RealtimeConnection(ws, socket, deps), options.logger);
      ws.once('close', (code: number) => {
        options.metrics.realtime.closed(code);
      });
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

function ignoreSocketError(): void {
  // Nothing to do: a socket emits 'error' only while it is being destroyed.
}
