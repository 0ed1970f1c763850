import { closeCodes } from '@parley/protocol';
import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { logLine } from '../support/log-lines.ts';
import { openSocket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Every realtime socket leaves one log line when it opens and one when it closes (close code, lifetime), so an
 * operator can follow connections; neither names the person, their address or their token.
 */
describe('realtime socket open and close log lines', () => {
  let server: TestServer;
  let owner: SignedIn;

  beforeAll(async () => {
    server = await startTestServer({ env: { PARLEY_NODE_ID: 'node-ws-1' } });
    owner = await newTenantOwner(server);
  });
  afterAll(async () => {
    await server.close();
  });

  it('logs a signed-in socket’s open and close with its id, tenant, close code and duration', async () => {
    const socket = await openSocket(server, owner.accessToken);
    const ready = await socket.next((frame) => frame.type === 'ready');
    const connectionId = ready.deviceId as string;
    const opened = await logLine(
      server.logs,
      (entry) => entry.msg === 'realtime socket opened' && entry.connectionId === connectionId,
    );
    expect(opened).toMatchObject({ level: 30, nodeId: 'node-ws-1' });
    const closedLine = logLine(
      server.logs,
      (entry) => entry.msg === 'realtime socket closed' && entry.connectionId === connectionId,
    );
    socket.ws.close(1000, 'bye');
    const closed = await closedLine;
    expect(closed).toMatchObject({
      nodeId: 'node-ws-1',
      tenantId: owner.tenantId,
      signedIn: true,
      closeCode: 1000,
    });
    expect(closed.durationMs).toEqual(expect.any(Number));
    // Nothing that points at the person: no user id, e-mail, token, address or the client's close reason.
    const lines = JSON.stringify([opened, closed]);
    for (const secret of [owner.userId, owner.email, owner.accessToken, '127.0.0.1', 'bye']) {
      expect(lines).not.toContain(secret);
    }
  });

  it('logs a socket that never signed in, with the code it was closed with', async () => {
    const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
    await once(ws, 'open');
    const closedLine = logLine(
      server.logs,
      (entry) => entry.msg === 'realtime socket closed' && entry.signedIn === false,
    );
    ws.send(JSON.stringify({ type: 'ping' })); // the first frame must be auth: closed with 4001
    const [code] = (await once(ws, 'close')) as [number];
    expect(code).toBe(closeCodes.unauthorized);
    const closed = await closedLine;
    expect(closed.closeCode).toBe(closeCodes.unauthorized);
    expect(closed.tenantId).toBeUndefined();
  });
});
