import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { clientAddressKey } from '../../src/http/connection-limits.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { probeRoutes } from '../support/probe-routes.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/** Every 127.x address is loopback on Linux: each stands for another client machine. */
const attacker = '127.0.0.2';
const bystander = '127.0.0.3';
const latecomer = '127.0.0.4';

/** An admitted connection: `port` is its client-side port, as the server sees it. */
type Held = { port: number; close: () => void };
type Attempt = { admitted: true; held: Held } | { admitted: false; ms: number };

/**
 * Tracks every TCP connection the server accepts, so a test can await their server-side close (the
 * server's own count is released then) instead of sleeping.
 */
class ServerSockets {
  readonly #closing = new Map<number, Promise<unknown>>();
  #onNext: (() => void) | undefined;
  constructor(server: TestServer) {
    server.app.fastify.server.on('connection', (socket: net.Socket) => {
      this.#closing.set(socket.remotePort ?? 0, once(socket, 'close'));
      this.#onNext?.();
    });
  }
  /** Resolves when the server accepts its next connection. */
  next(): Promise<void> {
    return new Promise((resolve) => (this.#onNext = resolve));
  }
  /** Resolves once the server has closed the connection from this client port. */
  async closed(port: number): Promise<void> {
    await this.#closing.get(port);
    this.#closing.delete(port);
  }
  /** Resolves once every connection accepted so far has been closed on the server's side. */
  async allClosed(): Promise<void> {
    await Promise.all(this.#closing.values());
    this.#closing.clear();
  }
}

function portOf(server: TestServer): number {
  return Number(new URL(server.url).port);
}

/** A TLS client whose TCP connection leaves from `localAddress`. */
function tlsFrom(server: TestServer, localAddress: string): tls.TLSSocket {
  const tcp = net.connect({ host: '127.0.0.1', port: portOf(server), localAddress });
  tcp.on('error', () => undefined);
  return tls.connect({ socket: tcp, servername: 'localhost', ca: server.ca });
}

/** Opens a TLS connection from `localAddress`: admitted once the handshake completes, refused if closed first. */
function tryTls(server: TestServer, localAddress: string): Promise<Attempt> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = tlsFrom(server, localAddress);
    socket.once('secureConnect', () => {
      resolve({ admitted: true, held: { port: socket.localPort ?? 0, close: () => socket.destroy() } });
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      resolve({ admitted: false, ms: performance.now() - started });
    });
  });
}

/** Opens a realtime WebSocket from `localAddress`. */
function tryWebSocket(server: TestServer, localAddress: string): Promise<Attempt> {
  const started = performance.now();
  return new Promise((resolve) => {
    const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, {
      localAddress,
      ca: server.ca,
    });
    ws.once('upgrade', (response) => {
      const port = response.socket.localPort ?? 0;
      ws.once('open', () => {
        const close = () => {
          ws.terminate();
        };
        resolve({ admitted: true, held: { port, close } });
      });
    });
    ws.on('error', () => undefined);
    ws.once('close', () => {
      resolve({ admitted: false, ms: performance.now() - started });
    });
  });
}

/** One whole HTTPS request from `localAddress`; the status, or undefined if the connection was refused. */
async function livezFrom(server: TestServer, localAddress: string): Promise<number | undefined> {
  const socket = tlsFrom(server, localAddress);
  socket.on('error', () => undefined);
  const [outcome] = await Promise.race([once(socket, 'secureConnect'), once(socket, 'close')]);
  if (outcome !== undefined) return undefined; // `close` carries hadError; `secureConnect` nothing.
  socket.end('GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  let text = '';
  for await (const chunk of socket) text += (chunk as Buffer).toString('latin1');
  return Number(text.split(' ')[1]);
}

async function admit(attempt: Promise<Attempt>): Promise<Held> {
  const result = await attempt;
  expect(result.admitted, 'connection within the caps was refused').toBe(true);
  if (!result.admitted) throw new Error('unreachable');
  return result.held;
}

async function expectRefused(attempt: Promise<Attempt>): Promise<void> {
  const result = await attempt;
  if (result.admitted) result.held.close(); // Fail fast, without leaving it open.
  expect(result.admitted, 'connection past the cap was admitted').toBe(false);
  // Refused at accept: no handshake was done, so the answer is quick even on a busy machine.
  if (!result.admitted) expect(result.ms).toBeLessThan(1000);
}

/**
 * Attack: one machine opens connection after connection (plain TLS, HTTP keep-alive, WebSockets) until
 * the node runs out of file descriptors or memory, and nobody else can connect. Each client address may
 * hold at most PARLEY_MAX_CONNECTIONS_PER_ADDRESS connections and the node at most PARLEY_MAX_CONNECTIONS;
 * past either the connection is closed at accept, before the TLS handshake, while other addresses are
 * still served (per-address cap) and the node admits again as soon as connections close. The server
 * listens on `::` here, so IPv4 clients arrive IPv4-mapped (`::ffff:127.0.0.2`) and are counted under
 * their IPv4 address.
 */
describeEachDialect('connection caps per client address and per node', (dialect) => {
  const perAddress = 6;
  const total = 10;
  let server: TestServer;
  let serverSockets: ServerSockets;
  const held: Held[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      dialect,
      env: {
        PARLEY_HOST: '::',
        PARLEY_MAX_CONNECTIONS_PER_ADDRESS: String(perAddress),
        PARLEY_MAX_CONNECTIONS: String(total),
        // Held connections must outlive the test, not be cut by the timeouts tried below.
        PARLEY_HEADERS_TIMEOUT_MS: '60000',
        PARLEY_REALTIME_AUTH_TIMEOUT_MS: '60000',
      },
    });
    serverSockets = new ServerSockets(server);
  });

  afterEach(async () => {
    for (const connection of held.splice(0)) connection.close();
    await serverSockets.allClosed();
  });

  afterAll(async () => {
    await server.close();
  });

  it('refuses one address past its cap, HTTPS and WebSocket alike, before TLS, while another address is served', async () => {
    for (let i = 0; i < perAddress / 2; i += 1) {
      held.push(await admit(tryTls(server, attacker)));
      held.push(await admit(tryWebSocket(server, attacker)));
    }
    await expectRefused(tryTls(server, attacker));
    await expectRefused(tryWebSocket(server, attacker));

    expect(await livezFrom(server, bystander)).toBe(200);
    held.push(await admit(tryWebSocket(server, bystander)));

    // The operator learns that the cap is biting; the log does not learn who (an address is personal data).
    const report = server.logs
      .entries()
      .find((entry) => entry.msg === 'connections refused at the connection caps');
    expect(report).toMatchObject({ level: 40, refused: { perAddress: 1, total: 0 } }); // warn, at the first refusal
    expect(JSON.stringify(report)).not.toContain(attacker);
  });

  it('refuses every address once the node holds its cap, and admits again when one closes', async () => {
    for (let i = 0; i < perAddress; i += 1) held.push(await admit(tryTls(server, attacker)));
    const bystanders: Held[] = [];
    for (let i = 0; i < total - perAddress; i += 1) bystanders.push(await admit(tryTls(server, bystander)));
    held.push(...bystanders); // Closing twice is harmless; a failed assertion leaves none open.

    await expectRefused(tryTls(server, latecomer));
    await expectRefused(tryWebSocket(server, latecomer));

    const [first] = bystanders;
    if (first === undefined) throw new Error('no bystander connection');
    first.close();
    await serverSockets.closed(first.port);
    expect(await livezFrom(server, latecomer)).toBe(200);
  });

  it('releases the counts when connections close: after many open/close rounds the cap still admits', async () => {
    for (let round = 0; round < 10; round += 1) {
      const batch: Held[] = [];
      for (let i = 0; i < perAddress; i += 1) {
        const connection = await admit(
          round % 2 === 0 ? tryTls(server, attacker) : tryWebSocket(server, attacker),
        );
        batch.push(connection);
        held.push(connection); // So that afterEach closes it if an assertion fails mid-round.
      }
      await expectRefused(tryTls(server, attacker));
      // A client that gives up mid-handshake must be released too.
      for (const connection of batch) connection.close();
      await serverSockets.allClosed();
      const accepted = serverSockets.next();
      const halfOpen = net.connect({ host: '127.0.0.1', port: portOf(server), localAddress: attacker });
      await accepted;
      halfOpen.destroy();
      await serverSockets.allClosed();
    }
    for (let i = 0; i < perAddress; i += 1) held.push(await admit(tryTls(server, attacker)));
  });
});

/**
 * Behind a TLS-terminating proxy the server speaks plain HTTP and the cap sees the proxy's address (see
 * docs/deployment.md): the same accept-time refusal must hold without TLS.
 */
describe('connection caps without TLS (PARLEY_TLS_MODE=behind-proxy)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      env: { PARLEY_TLS_MODE: 'behind-proxy', PARLEY_MAX_CONNECTIONS_PER_ADDRESS: '2' },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  /** A plain HTTP/1.1 GET /livez from `localAddress`: the status line, or '' if closed unanswered. */
  async function plainLivez(socket: net.Socket): Promise<string> {
    socket.on('error', () => undefined);
    socket.write('GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const [first] = await Promise.race([once(socket, 'data'), once(socket, 'close').then(() => [undefined])]);
    return first instanceof Buffer ? (first.toString('latin1').split('\r\n')[0] ?? '') : '';
  }

  const from = (localAddress: string) =>
    net.connect({ host: '127.0.0.1', port: portOf(server), localAddress });

  it('refuses a third connection from one address and still serves another', async () => {
    const first = from(attacker);
    const second = from(attacker);
    try {
      expect(await plainLivez(first)).toBe('HTTP/1.1 200 OK');
      expect(await plainLivez(second)).toBe('HTTP/1.1 200 OK');
      const third = from(attacker);
      expect(await plainLivez(third)).toBe('');
      const other = from(bystander);
      expect(await plainLivez(other)).toBe('HTTP/1.1 200 OK');
      other.destroy();
    } finally {
      first.destroy();
      second.destroy();
    }
  });
});

/** A TLS connection from 127.0.0.1 that records what the server sends and when it closes. */
async function openQuiet(server: TestServer): Promise<{
  socket: tls.TLSSocket;
  received: () => string;
  closedAfter: Promise<number>;
}> {
  const socket = tls.connect({
    host: '127.0.0.1',
    port: portOf(server),
    servername: 'localhost',
    ca: server.ca,
  });
  socket.on('error', () => undefined);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  await once(socket, 'secureConnect');
  const opened = performance.now();
  // Not `once(socket, 'close')`: that rejects on an 'error' first, and a server closing while the client still
  // writes (the line-break test) arrives as ECONNRESET before the close — it is the close being measured.
  const closedAfter = new Promise<number>((resolve) => {
    socket.once('close', () => {
      resolve(performance.now() - opened);
    });
  });
  return { socket, received: () => text, closedAfter };
}

/** The time the server took to close, or `Infinity` if it had not after `deadlineMs`. */
function within(closedAfter: Promise<number>, deadlineMs: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<number>((resolve) => {
    timer = setTimeout(() => {
      resolve(Number.POSITIVE_INFINITY);
    }, deadlineMs);
  });
  return Promise.race([closedAfter, deadline]).finally(() => {
    clearTimeout(timer);
  });
}

/** Writes `bytes` one at a time, `gapMs` apart, until the socket closes. */
function trickle(socket: tls.TLSSocket, bytes: string, gapMs: number): void {
  let next = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || next >= bytes.length) {
      clearInterval(timer);
      return;
    }
    socket.write(bytes.charAt(next));
    next += 1;
  }, gapMs);
}

function errorCodeOf(response: string): unknown {
  const body = response.slice(response.indexOf('\r\n\r\n') + 4);
  return (JSON.parse(body) as { error: { code: string } }).error.code;
}

/**
 * Attack: hold the node's connections without spending anything — open TCP and never start TLS, finish
 * TLS and send nothing, send headers a byte at a time (slowloris), send a body a byte at a time or stop
 * half-way, keep an idle keep-alive connection. Each must be cut at its configured timeout (here set
 * short), not at Node's defaults (TLS handshake 120 s, headers 60 s checked every 30 s, no request or idle
 * timeout at all), so that a few thousand such connections cannot fill the connection caps for long.
 */
describeEachDialect('connection timeouts', (dialect) => {
  let server: TestServer;
  // Generous upper bounds: the sweep runs every second and the machine is shared.
  const slack = 2500;

  beforeAll(async () => {
    server = await startTestServer({
      dialect,
      extraRoutes: probeRoutes().routes,
      env: {
        PARLEY_TLS_HANDSHAKE_TIMEOUT_MS: '1000',
        PARLEY_HEADERS_TIMEOUT_MS: '1000',
        PARLEY_REQUEST_TIMEOUT_MS: '3000',
        PARLEY_IDLE_TIMEOUT_MS: '1500',
        PARLEY_KEEP_ALIVE_TIMEOUT_MS: '1000',
      },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('cuts a TCP connection that never starts its TLS handshake at the handshake timeout, saying nothing', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: portOf(server) });
    let received = 0;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    await once(socket, 'connect');
    const opened = performance.now();
    const ms = await within(
      once(socket, 'close').then(() => performance.now() - opened),
      1000 + slack,
    );
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(1000 + slack);
    expect(received).toBe(0);
  });

  it('answers 408 request_timeout and closes a connection that completes TLS but never sends a request', async () => {
    const quiet = await openQuiet(server);
    const ms = await within(quiet.closedAfter, 1000 + slack);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(1000 + slack);
    expect(quiet.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(errorCodeOf(quiet.received())).toBe('request_timeout');
  });

  it('cuts headers trickled a byte at a time (slowloris) at the headers timeout, though bytes keep coming', async () => {
    const slow = await openQuiet(server);
    trickle(slow.socket, `GET /livez HTTP/1.1\r\nHost: localhost\r\nX-Pad: ${'a'.repeat(500)}\r\n\r\n`, 50);
    const ms = await within(slow.closedAfter, 1000 + slack);
    expect(ms).toBeLessThan(1000 + slack);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(errorCodeOf(slow.received())).toBe('request_timeout');
  });

  it('cuts a body trickled a byte at a time at the request timeout', async () => {
    const slow = await openQuiet(server);
    const body = JSON.stringify({ text: 'x'.repeat(90) });
    slow.socket.write(
      `POST /test/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${String(body.length)}\r\n\r\n`,
    );
    trickle(slow.socket, body, 100);
    const ms = await within(slow.closedAfter, 3000 + slack);
    expect(ms).toBeGreaterThanOrEqual(2900);
    expect(ms).toBeLessThan(3000 + slack);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection whose body stops half-way at the idle timeout', async () => {
    const stalled = await openQuiet(server);
    stalled.socket.write(
      'POST /test/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"te',
    );
    const ms = await within(stalled.closedAfter, 1500 + slack);
    expect(ms).toBeGreaterThanOrEqual(1400);
    expect(ms).toBeLessThan(1500 + slack);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const idle = await openQuiet(server);
    idle.socket.write('GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const ms = await within(idle.closedAfter, 1000 + 1000 + slack);
    expect(idle.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(idle.received()).toMatch(/keep-alive: timeout=1/i);
    // Node keeps the socket one second past the advertised time, so the client closes first.
    expect(ms).toBeLessThan(1000 + 1000 + slack);
  });

  it('closes a keep-alive connection kept busy with bare line breaks between requests', async () => {
    // Node skips empty lines before a request line without starting a request, but counts them as activity:
    // every byte resets the keep-alive and idle timers, and the headers timeout only starts with a request.
    const idle = await openQuiet(server);
    idle.socket.write('GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const timer = setInterval(() => {
      if (!idle.socket.destroyed) idle.socket.write('\r\n');
    }, 200);
    try {
      // At most the keep-alive timeout plus the headers timeout after the answer.
      const ms = await within(idle.closedAfter, 1000 + 1000 + slack);
      expect(idle.received()).toMatch(/^HTTP\/1\.1 200 /);
      expect(ms).toBeLessThan(1000 + 1000 + slack);
    } finally {
      clearInterval(timer);
      idle.socket.destroy();
    }
  });

  it('leaves a WebSocket upgraded on a kept-alive connection to the realtime timeouts', async () => {
    const mixed = await openQuiet(server);
    mixed.socket.write('GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    mixed.socket.write(
      'GET /v1/realtime HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    try {
      // Past the keep-alive and headers timeouts, well within the 10 s realtime auth timeout.
      expect(await within(mixed.closedAfter, 1000 + 1000 + 1500)).toBe(Number.POSITIVE_INFINITY);
      expect(mixed.received()).toMatch(/HTTP\/1\.1 101 /);
    } finally {
      mixed.socket.destroy();
    }
  });
});

describe('client address key', () => {
  it('counts an IPv4-mapped IPv6 address as the IPv4 address', () => {
    expect(clientAddressKey('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(clientAddressKey('::FFFF:10.1.2.3')).toBe('10.1.2.3');
    expect(clientAddressKey('10.1.2.3')).toBe('10.1.2.3');
  });

  it('counts every address of one IPv6 /64 together, and other /64s apart', () => {
    const key = clientAddressKey('2001:db8:1:2::1');
    expect(clientAddressKey('2001:0db8:0001:0002:ffff:eeee:dddd:cccc')).toBe(key);
    expect(clientAddressKey('2001:db8:1:2:aaaa::9%eth0')).toBe(key);
    expect(clientAddressKey('2001:db8:1:3::1')).not.toBe(key);
    expect(clientAddressKey('::1')).toBe('0:0:0:0::/64');
    expect(clientAddressKey('fe80::1:2:3:4')).toBe('fe80:0:0:0::/64');
    expect(clientAddressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });
});
