import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import { clientAddressKey } from '../client-address.ts';
import type { Logger } from '../observability/logger.ts';

export { clientAddressKey };

/** Caps and timeouts applied to every TCP connection, before and around HTTP (and the WebSocket upgrade). */
export interface ConnectionLimits {
  /** Concurrent connections from one client address (an IPv6 client: its /64). */
  perAddress: number;
  /** Concurrent connections to this node, all addresses together. */
  total: number;
  /** Time a TLS handshake may take (`tls.Server` `handshakeTimeout`; set where the server is created). */
  tlsHandshakeTimeoutMs: number;
  /** Time a connection gets to deliver its first request's headers (covers a silent connection too). */
  headersTimeoutMs: number;
  /** Time a request gets to arrive whole, headers and body. */
  requestTimeoutMs: number;
  /** Time an idle keep-alive connection stays open between requests. */
  keepAliveTimeoutMs: number;
  /** A connection on which no byte moves either way for this long is closed (stalled bodies, stalled readers). */
  idleTimeoutMs: number;
}

/**
 * How often Node sweeps for headers and request timeouts: a tenth of the headers timeout, at most a second
 * (Node's default, 30 s, would let a 10 s headers timeout run up to 40 s).
 */
const sweepInterval = (headersTimeoutMs: number) => Math.min(1000, Math.max(100, headersTimeoutMs / 10));
/** Refusals are logged at most this often. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

/** Counts open connections per client address; `admit` takes a slot or refuses, a close gives it back. */
function addressCounter(perAddress: number): { admit: (socket: Socket) => boolean } {
  const open = new Map<string, number>();
  return {
    admit(socket) {
      const address = socket.remoteAddress;
      if (address === undefined) return false; // Already gone.
      const key = clientAddressKey(address);
      const count = open.get(key) ?? 0;
      if (count >= perAddress) return false;
      open.set(key, count + 1);
      socket.once('close', () => {
        const left = (open.get(key) ?? 1) - 1;
        if (left === 0) open.delete(key);
        else open.set(key, left);
      });
      return true;
    },
  };
}

/** Logs refusals as counts, at most once a minute: an attacker must not be able to flood the log. */
function refusalReporter(logger: Logger, limits: ConnectionLimits): (cap: 'perAddress' | 'total') => void {
  const refused = { perAddress: 0, total: 0 };
  let lastReport = Number.NEGATIVE_INFINITY;
  return (cap) => {
    refused[cap] += 1;
    const now = performance.now();
    if (now - lastReport < REFUSAL_LOG_INTERVAL_MS) return;
    lastReport = now;
    // Counts since start only: a client address is personal data and is not logged.
    logger.warn(
      { refused: { ...refused }, limits: { perAddress: limits.perAddress, total: limits.total } },
      'connections refused at the connection caps',
    );
  };
}

/**
 * Installs the caps and timeouts on the node's HTTP(S) server, after it is created and before it listens.
 * Both caps refuse at accept time by closing the TCP connection: on a TLS port nothing can be said before
 * the handshake, and the handshake is the work a flood wants us to do, so the client sees a reset. The
 * global cap is Node's `maxConnections` (the handle is closed before any JavaScript object is built for
 * it). The per-address check is put in front of Node's own `connection` listener (the TLS wrap, or the HTTP
 * parser without TLS), so a refused socket never gets a TLS or HTTP object: measured, that costs a third
 * of what destroying it from an extra listener did. Upgraded WebSockets keep their TCP connection, so they
 * count against both caps like any HTTP connection.
 */
export function installConnectionLimits(server: Server, limits: ConnectionLimits, logger: Logger): void {
  const report = refusalReporter(logger, limits);
  server.maxConnections = limits.total;
  server.on('drop', () => {
    report('total');
  });

  const counter = addressCounter(limits.perAddress);
  const nodeListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    if (!counter.admit(socket)) {
      socket.destroy();
      if (socket.remoteAddress !== undefined) report('perAddress');
      return;
    }
    for (const listener of nodeListeners) listener.call(server, socket);
  });

  // A TLS failure (handshake timeout, garbage instead of a ClientHello) has no HTTP exchange to answer:
  // close at once, before the HTTP layer's clientError handler would try to write a response into it.
  server.prependListener('tlsClientError', (_error: Error, socket: Socket) => {
    socket.destroy();
  });

  installTimeouts(server, limits);
}

/** Node's HTTP timeouts, set on the created server (Fastify exposes only some of them, with other defaults). */
function installTimeouts(server: Server, limits: ConnectionLimits): void {
  const http = server as Server & {
    headersTimeout: number;
    requestTimeout: number;
    keepAliveTimeout: number;
    connectionsCheckingInterval: number;
    setTimeout(ms: number): unknown;
  };
  http.headersTimeout = limits.headersTimeoutMs;
  http.requestTimeout = limits.requestTimeoutMs;
  http.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Read by Node when the server starts listening.
  http.connectionsCheckingInterval = sweepInterval(limits.headersTimeoutMs);
  // Socket inactivity; Node's HTTP layer closes the socket when it fires. `ws` clears it on upgrade.
  http.setTimeout(limits.idleTimeoutMs);
  installKeepAliveDeadline(server, limits);
}

/**
 * Node's keep-alive and idle timers restart on every byte received, and its headers timeout starts only when
 * a request begins; empty lines before a request line are skipped without beginning one. So a client that
 * sends a bare CRLF every few seconds after a response held its connection open forever. Once a connection
 * has no request in flight it must begin and finish the next one's headers within the keep-alive timeout
 * plus the headers timeout, whatever bytes it sends, or it is closed (as Node closes an idle keep-alive
 * connection: without a word). An upgraded connection belongs to the realtime gateway and is left alone.
 */
function installKeepAliveDeadline(server: Server, limits: ConnectionLimits): void {
  const deadlineMs = limits.keepAliveTimeoutMs + limits.headersTimeoutMs;
  const inFlight = new WeakMap<Socket, number>();
  const deadlines = new WeakMap<Socket, NodeJS.Timeout>();
  const disarm = (socket: Socket) => {
    clearTimeout(deadlines.get(socket));
    deadlines.delete(socket);
  };
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const { socket } = request;
    disarm(socket);
    const count = inFlight.get(socket);
    if (count === undefined) {
      socket.once('close', () => {
        disarm(socket);
      });
    }
    inFlight.set(socket, (count ?? 0) + 1);
    response.once('close', () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (left > 0 || socket.destroyed) return;
      const timer = setTimeout(() => {
        deadlines.delete(socket);
        // Node frees the HTTP parser of a socket it hands to an 'upgrade' listener (the WebSocket).
        if ((socket as Socket & { parser?: unknown }).parser == null) return;
        socket.destroy();
      }, deadlineMs);
      timer.unref();
      deadlines.set(socket, timer);
    });
  });
}
