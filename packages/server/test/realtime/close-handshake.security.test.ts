/**
 * Attack: hold server sockets open by never answering the close handshake. A client opens many realtime
 * sockets and never signs in, or gets itself closed for abuse, and then ignores the server's close frame, so
 * each TCP connection (and its memory) stays for as long as the server waits for a close frame that never
 * comes (30 s by default in `ws`). The server must drop the connection itself a short grace after its
 * close frame: at the auth timeout plus that grace for a socket that never signed in.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLOSE_GRACE_MS } from '../../src/realtime/gateway.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { newTenantOwner } from '../support/identity-fixtures.ts';
import { opcodes, RawWebSocket } from '../support/raw-websocket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

const AUTH_TIMEOUT_MS = 500;
// Scheduling slack on a shared 2-core machine; far below the 30 s a missing terminate would take.
const SLACK_MS = 1_500;

describeEachDialect('a client that ignores the close handshake loses its connection anyway', (dialect) => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer({
      dialect,
      env: { PARLEY_REALTIME_AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT_MS) },
    });
    token = (await newTenantOwner(server, 'Close Clinic')).accessToken;
  });

  afterAll(async () => {
    await server.close();
  });

  it('a socket that never signs in is closed with 4008 and its TCP connection ends after the grace', async () => {
    const started = performance.now();
    const silent = await RawWebSocket.open(server);
    expect(await silent.closeCode).toBe(4008);
    await silent.ended;
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS + CLOSE_GRACE_MS - 50);
    expect(elapsed).toBeLessThan(AUTH_TIMEOUT_MS + CLOSE_GRACE_MS + SLACK_MS);
  });

  it('several silent sockets at once all end, not only the first', async () => {
    const sockets = await Promise.all(Array.from({ length: 10 }, () => RawWebSocket.open(server)));
    const started = performance.now();
    await Promise.all(sockets.map((socket) => socket.ended));
    expect(performance.now() - started).toBeLessThan(AUTH_TIMEOUT_MS + CLOSE_GRACE_MS + SLACK_MS);
    for (const socket of sockets) expect(await socket.closeCode).toBe(4008);
  });

  it('a signed-in socket closed for abuse (4029) also ends after the grace', async () => {
    const abuser = await RawWebSocket.open(server);
    abuser.sendJson({ type: 'auth', token });
    await abuser.nextText((frame) => frame.includes('"ready"'));
    for (let n = 0; n < 20; n += 1) abuser.send({ opcode: opcodes.text, payload: Buffer.from('{not json') });
    expect(await abuser.closeCode).toBe(4029);
    const closedAt = performance.now();
    await abuser.ended;
    const elapsed = performance.now() - closedAt;
    expect(elapsed).toBeGreaterThanOrEqual(CLOSE_GRACE_MS - 100);
    expect(elapsed).toBeLessThan(CLOSE_GRACE_MS + SLACK_MS);
  });
});
