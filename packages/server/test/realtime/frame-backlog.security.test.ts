import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintTenantToken } from '../../src/crypto/token.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { newVictim, type Victim } from '../support/ended-session-fixtures.ts';
import { newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { openSocket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Attack: frames are handled one at a time, in order; while one waits (on a busy database, a lock, Redis),
 * the client goes on writing. Every frame read was queued with its text, however many, so one client could
 * fill the server's memory at wire speed for as long as its frame waited. A socket with a backlog must stop
 * being read (the bytes wait in the client's buffers, not the server's) and be read again once it drains.
 *
 * And: a socket being closed (the wrong first frame, a bad token, abuse) still handled every frame queued
 * behind, each an auth frame costing a database lookup: a hundred lookups per connection instead of one.
 */

const FRAME_BYTES = 64 * 1024;
const FLOOD_BYTES = 32 * 1024 * 1024;

describeEachDialect('a client cannot queue unbounded frames on the server', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let victim: Victim;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Backlog');
    victim = await newVictim(server, owner, 'flooder');
  });

  afterAll(async () => {
    await server.close();
  });

  describe('while a frame waits', () => {
    it('the server stops reading the socket and reads it again once the frame is done', async () => {
      const typing = server.app.services.typing;
      const original = typing.signal.bind(typing);
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      typing.signal = async (...args: Parameters<typeof original>) => {
        await released;
        return original(...args);
      };
      try {
        const socket = await openSocket(server, victim.token);
        socket.send({ type: 'typing', dialogId: victim.dialogId, state: 'started' });
        const padding = 'x'.repeat(FRAME_BYTES - 64);
        for (let sent = 0; sent < FLOOD_BYTES; sent += FRAME_BYTES)
          socket.send(JSON.stringify({ type: 'ping', padding }));
        // Whatever the server reads leaves the client's buffer; wait until that stops.
        let last = -1;
        while (socket.ws.bufferedAmount !== last) {
          last = socket.ws.bufferedAmount;
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
        // Kernel buffers on both sides hold a few MiB; the server itself holds about one.
        expect(socket.ws.bufferedAmount).toBeGreaterThan(FLOOD_BYTES / 2);
        release();
        // Read again: the backlog drains (the pings are refused and the socket closed for abuse, 4029).
        const [code] = await socket.closed;
        expect(code).toBe(4029);
      } finally {
        release();
        typing.signal = original;
      }
      // The server still serves another client.
      const other = await openSocket(server, owner.accessToken);
      other.send({ type: 'ping' });
      await other.next((frame) => frame.type === 'pong');
      other.ws.close();
    });
  });

  it('a socket being closed handles none of the frames queued behind the one that closed it', async () => {
    const sessions = server.app.services.sessions;
    const original = sessions.validate.bind(sessions);
    let lookups = 0;
    sessions.validate = (...args: Parameters<typeof original>) => {
      lookups += 1;
      return original(...args);
    };
    try {
      const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
      await once(ws, 'open');
      // A well-formed token of a real tenant that was never issued: each one is a database lookup.
      const forged = mintTenantToken('access', owner.tenantId);
      for (let index = 0; index < 80; index += 1) ws.send(JSON.stringify({ type: 'auth', token: forged }));
      const [code] = (await once(ws, 'close')) as [number];
      expect(code).toBe(4001);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(lookups).toBe(1);
    } finally {
      sessions.validate = original;
    }
  });
});
