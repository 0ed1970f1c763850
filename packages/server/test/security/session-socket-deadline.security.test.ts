import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect, describePostgres } from '../support/dialects.ts';
import {
  carries,
  issueSession,
  newVictim,
  sendText,
  storedSession,
  wallCloseOf,
} from '../support/ended-session-fixtures.ts';
import { bearer, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { openSocket, type Socket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { startTwoNodes, type TwoNodes } from '../support/two-nodes.ts';

/**
 * Attack: a realtime socket outlives its session's time limits. A socket opened with an access token that
 * then expires, or whose session then passes the tenant's idle timeout (automatic log-off), went on
 * receiving messages for as long as its client sent nothing, because the token was checked only when a frame
 * arrived. A device left unattended stayed signed in. Each socket must close with 4001 within 2 s of its
 * token's expiry or its session's idle deadline, on whichever node it is. The rule for idleness: requests and
 * frames are use (on any node); a `ping` frame and WebSocket pongs are liveness, not use.
 */

const CLOSE_BOUND_MS = 2000;
const UNAUTHORIZED = 4001;
const LIMIT_SECONDS = 3;

/** A tenant whose sessions expire or idle out after `LIMIT_SECONDS`, and a member in a dialog with its owner. */
async function shortLivedTenant(server: TestServer, limit: 'accessTokenTtlSeconds' | 'idleTimeoutSeconds') {
  const owner = await newTenantOwner(server, `Short ${limit}`);
  const victim = await newVictim(server, owner, 'shortlived');
  // After the setup: the owner's own session would otherwise idle out while it creates the member.
  await server.app.services.tenantSettings.update(
    owner.tenantId,
    { userId: owner.userId, sessionId: 'test-setup' },
    { [limit]: LIMIT_SECONDS },
    {},
  );
  return { owner, victim };
}

/**
 * A member of a new short-lived tenant with a fresh session (issued on `server`) and a socket opened with it
 * on `socketNode`; `closed` is watched from the moment the socket is ready.
 */
async function shortLivedSocket(
  server: TestServer,
  limit: 'accessTokenTtlSeconds' | 'idleTimeoutSeconds',
  socketNode: TestServer = server,
) {
  const { owner, victim } = await shortLivedTenant(server, limit);
  const token = await issueSession(server, owner.tenantId, victim.userId);
  const socket = await openSocket(socketNode, token);
  return { owner, victim, token, socket, closed: wallCloseOf(socket) };
}

/** The socket is live (a message reaches it), so a close later is the deadline's doing. */
async function expectLive(server: TestServer, owner: SignedIn, dialogId: string, socket: Socket) {
  await sendText(server, owner.accessToken, dialogId, 'while it lasts');
  await socket.next(carries('while it lasts'));
}

function expectClosedAt(closed: { code: number; at: number }, deadline: number, earlyByMs = 0): void {
  expect(closed.code).toBe(UNAUTHORIZED);
  expect(closed.at).toBeGreaterThanOrEqual(deadline - earlyByMs);
  expect(closed.at - deadline).toBeLessThan(CLOSE_BOUND_MS);
}

/** Sends `frame` every 500 ms for `forMs`; resolves with the wall time of the last one sent. */
function keepSending(send: () => unknown, forMs: number): Promise<number> {
  return new Promise((resolve) => {
    const started = Date.now();
    const timer = setInterval(() => {
      void send();
      if (Date.now() - started >= forMs) {
        clearInterval(timer);
        resolve(Date.now());
      }
    }, 500);
  });
}

describeEachDialect('sockets close at their session deadlines on one node', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
  });

  afterAll(async () => {
    await server.close();
  });

  it('a socket whose access token expires closes with 4001 within 2 s of the expiry, with the client silent', async () => {
    const { owner, victim, socket, closed } = await shortLivedSocket(server, 'accessTokenTtlSeconds');
    const { accessExpiresAt } = await storedSession(server, owner.tenantId, victim.userId);
    await expectLive(server, owner, victim.dialogId, socket);
    expectClosedAt(await closed, accessExpiresAt);
  });

  it('a socket whose session idles out closes with 4001 within 2 s of the idle deadline, with the client silent', async () => {
    const { owner, victim, token, socket, closed } = await shortLivedSocket(server, 'idleTimeoutSeconds');
    const { lastUsedAt } = await storedSession(server, owner.tenantId, victim.userId);
    await expectLive(server, owner, victim.dialogId, socket);
    expectClosedAt(await closed, lastUsedAt + LIMIT_SECONDS * 1000);
    // Ended by the server's rules, not only on this socket: the token is refused everywhere.
    expect((await server.request('/v1/me', bearer(token))).status).toBe(401);
  });

  it('pings are liveness, not use: a socket that only pings closes with 4001 within 2 s of the idle deadline', async () => {
    const { owner, victim, socket, closed } = await shortLivedSocket(server, 'idleTimeoutSeconds');
    const { lastUsedAt } = await storedSession(server, owner.tenantId, victim.userId);
    await expectLive(server, owner, victim.dialogId, socket);
    void keepSending(
      () => {
        if (socket.ws.readyState === socket.ws.OPEN) socket.send({ type: 'ping' });
      },
      2 * LIMIT_SECONDS * 1000,
    );
    expectClosedAt(await closed, lastUsedAt + LIMIT_SECONDS * 1000);
  });

  it('a socket whose client keeps acting stays open past the idle timeout, and closes once it stops', async () => {
    const { owner, victim, socket, closed } = await shortLivedSocket(server, 'idleTimeoutSeconds');
    const lastSent = await keepSending(
      () => {
        socket.send({ type: 'presence.subscribe', userIds: [] });
      },
      2 * LIMIT_SECONDS * 1000,
    );
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    await expectLive(server, owner, victim.dialogId, socket);
    expectClosedAt(await closed, lastSent + LIMIT_SECONDS * 1000);
  });
});

describePostgres('sockets close at their session deadlines on every node (PostgreSQL + Redis)', () => {
  let nodes: TwoNodes;

  beforeAll(async () => {
    nodes = await startTwoNodes();
  });

  afterAll(async () => {
    await nodes.close();
  });

  it('a token issued on node A expires: its socket on node B closes with 4001 within 2 s', async () => {
    const { nodeA, nodeB } = nodes;
    const { owner, victim, socket, closed } = await shortLivedSocket(nodeA, 'accessTokenTtlSeconds', nodeB);
    const { accessExpiresAt } = await storedSession(nodeA, owner.tenantId, victim.userId);
    await expectLive(nodeA, owner, victim.dialogId, socket);
    expectClosedAt(await closed, accessExpiresAt);
  });

  it('use on node A keeps the socket on node B open past the idle timeout; once use stops, it closes with 4001', async () => {
    const { nodeA, nodeB } = nodes;
    const { owner, victim, token, socket, closed } = await shortLivedSocket(
      nodeA,
      'idleTimeoutSeconds',
      nodeB,
    );
    const lastUsed = await keepSending(
      () => nodeA.request('/v1/me', bearer(token)).catch(() => undefined),
      2 * LIMIT_SECONDS * 1000,
    );
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    await expectLive(nodeA, owner, victim.dialogId, socket);
    // Node A writes a use to the database at most every quarter of the timeout, so node B may judge the
    // session idle up to that much early (the rule is the same for a request that reaches node B).
    expectClosedAt(await closed, lastUsed + LIMIT_SECONDS * 1000, (LIMIT_SECONDS * 1000) / 4);
    // The session itself ended (committed before the socket closed; node A hears of it over the bus).
    const ended = await nodeA.app.storage.withTenant(owner.tenantId, (tx) =>
      tx
        .selectFrom('sessions')
        .select('revoked_reason')
        .where('tenant_id', '=', owner.tenantId)
        .where('user_id', '=', victim.userId)
        .orderBy('created_at', 'desc')
        .executeTakeFirstOrThrow(),
    );
    expect(ended.revoked_reason).toBe('idle_timeout');
  });
});
