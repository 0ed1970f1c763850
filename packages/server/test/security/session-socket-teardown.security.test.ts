import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialect } from '../support/dialects.ts';
import { newVictim, sendText, type Victim } from '../support/ended-session-fixtures.ts';
import { newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { openSocket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Attack: a client signs in over realtime with positions to resume and drops the connection as soon as
 * `ready` arrives, while the server is still replaying and registering the socket's presence. The close
 * handler ran before the presence renewal timer and the presence registration existed, so they outlived the
 * socket: the user showed online for ever (the timer renewed a connection that was gone) and every such
 * socket left a timer and its closure behind (memory that grows with each connect-and-drop).
 */

const TRIALS = 20;

describeEachDialect('a socket dropped while its sign-in finishes leaves nothing behind', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let victim: Victim;
  let epoch: string;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Teardown');
    victim = await newVictim(server, owner, 'dropper');
    for (let index = 0; index < 30; index += 1)
      await sendText(server, owner.accessToken, victim.dialogId, `m${index}`);
    const probe = await openSocket(server, victim.token);
    epoch = String((await probe.next((frame) => frame.type === 'ready')).epoch);
    probe.ws.close();
    await probe.closed;
    await waitOffline();
  });

  afterAll(async () => {
    await server.close();
  });

  async function online(): Promise<boolean> {
    const [view] = await server.app.services.presence.view(owner.tenantId, victim.userId, [victim.userId]);
    return view?.status === 'online';
  }

  async function waitOffline(): Promise<void> {
    for (let waited = 0; waited < 2000 && (await online()); waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
  }

  describe('the client disconnects on ready, during the resume', () => {
    it('the user is offline once every socket closed (no registration or renewal timer outlives its socket)', async () => {
      for (let trial = 0; trial < TRIALS; trial += 1) {
        const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
        await once(ws, 'open');
        const positions = { [victim.dialogId]: { seq: 0, epoch } };
        ws.send(JSON.stringify({ type: 'auth', token: victim.token, positions }));
        await new Promise<void>((resolve) => {
          ws.on('message', (data: Buffer) => {
            if ((JSON.parse(data.toString('utf8')) as { type: string }).type === 'ready') {
              ws.terminate();
              resolve();
            }
          });
        });
        await once(ws, 'close');
      }
      // Time for the server's side of each socket to close and its sign-in to finish.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await online()).toBe(false);
    });
  });
});
