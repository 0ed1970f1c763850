import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialect, describePostgres } from '../support/dialects.ts';
import { carries, closeOf, newVictim, sendText, type Victim } from '../support/ended-session-fixtures.ts';
import {
  bearer,
  json,
  memberPassword,
  newTenantOwner,
  postForm,
  type SignedIn,
  signIn,
} from '../support/identity-fixtures.ts';
import { openSocket, type Socket } from '../support/realtime-socket.ts';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';
import { startTwoNodes, type TwoNodes } from '../support/two-nodes.ts';

/**
 * Attack: a session is ended — its token revoked (RFC 7009), "sign out everywhere", the account deactivated or
 * its processing restricted, the password changed or reset, the MFA reset by an administrator — while a
 * realtime socket opened with it stays open and sends nothing. The socket re-checked its token only when the
 * client sent a frame, so whoever held it (a thief, a device left behind) went on receiving every new message,
 * on the node where the session ended and on every other node. Each cause must close every socket of the
 * session, on every node, with 4001 within 2 s, and a message sent once the ending call returned must never
 * reach it. Expiry and idle timeouts are tried in session-socket-deadline.security.test.ts, the latency
 * measured in session-socket-close-latency.test.ts.
 */

const CLOSE_BOUND_MS = 2000;
const UNAUTHORIZED = 4001;
const FORBIDDEN = 4003;
const newPassword = 'amber lanterns drifting over quiet harbours';

interface World {
  owner: SignedIn;
  smtp: SmtpSink;
}

/** One way a session ends: `prepare` does what comes before (not timed) and answers the ending call. */
interface Ending {
  cause: string;
  prepare(node: TestServer, world: World, victim: Victim): Promise<() => Promise<void>>;
}

async function must(status: number, answer: Promise<{ status: number; text: string }>): Promise<void> {
  const response = await answer;
  if (response.status !== status)
    throw new Error(`expected ${status}, got ${response.status}: ${response.text}`);
}

const endings: Ending[] = [
  {
    cause: 'the token is revoked (RFC 7009)',
    prepare: (node, _world, victim) =>
      Promise.resolve(() => must(200, postForm(node, '/oauth/revoke', { token: victim.token }))),
  },
  {
    cause: 'the refresh token is revoked (RFC 7009)',
    prepare: (node, _world, victim) =>
      Promise.resolve(() => must(200, postForm(node, '/oauth/revoke', { token: victim.refreshToken }))),
  },
  {
    cause: 'the user signs out that one device from another',
    async prepare(node, { owner }, victim) {
      const other = await signIn(node, owner.tenantId, victim.email, memberPassword, 'profile');
      const listed = await node.request('/v1/me/sessions', bearer(other.accessToken));
      const { sessions } = listed.json<{ sessions: { id: string; current: boolean }[] }>();
      const target = sessions.find((session) => !session.current);
      if (target === undefined) throw new Error(`no other session listed: ${listed.text}`);
      return () =>
        must(204, node.request(`/v1/me/sessions/${target.id}`, bearer(other.accessToken, 'DELETE')));
    },
  },
  {
    cause: 'the user signs out everywhere',
    prepare: (node, _world, victim) =>
      Promise.resolve(() => must(204, node.request('/v1/me/sessions', bearer(victim.token, 'DELETE')))),
  },
  {
    cause: 'the account is deactivated',
    prepare: (node, { owner }, victim) =>
      Promise.resolve(() =>
        must(
          204,
          node.request(
            `/v1/users/${victim.userId}`,
            json({ status: 'deactivated' }, owner.accessToken, 'PATCH'),
          ),
        ),
      ),
  },
  {
    cause: "the account's processing is restricted (GDPR Art. 18)",
    prepare: (node, { owner }, victim) =>
      Promise.resolve(() =>
        must(
          201,
          node.request(
            `/v1/users/${victim.userId}/restriction`,
            json({ reason: 'Accuracy contested.' }, owner.accessToken),
          ),
        ),
      ),
  },
  {
    cause: 'the password is changed on another device',
    async prepare(node, { owner }, victim) {
      const other = await signIn(node, owner.tenantId, victim.email, memberPassword, 'profile');
      const body = { currentPassword: memberPassword, newPassword };
      return () => must(204, node.request('/v1/me/password', json(body, other.accessToken, 'PUT')));
    },
  },
  {
    cause: 'the password is reset by e-mail',
    async prepare(node, { owner, smtp }, victim) {
      await must(
        202,
        node.request(`/v1/tenants/${owner.tenantId}/password-reset`, json({ email: victim.email })),
      );
      await node.app.services.emailFlows.drain();
      const mail = smtp.to(victim.email, /^Reset your Parley password$/)[0];
      const token = /#token=(parley_pr_[A-Za-z0-9_-]+)/.exec(mail?.text ?? '')?.[1];
      if (token === undefined) throw new Error('no reset token in the mail');
      return () => must(204, node.request('/v1/password-reset/confirm', json({ token, newPassword })));
    },
  },
  {
    cause: "an administrator resets the user's MFA",
    prepare: (node, { owner }, victim) =>
      Promise.resolve(() =>
        must(204, node.request(`/v1/users/${victim.userId}/mfa`, bearer(owner.accessToken, 'DELETE'))),
      ),
  },
];

/**
 * The victim holds a socket on each of `socketNodes`; the session is ended on `endingNode`. Every socket
 * closes with 4001 within the bound; a message sent once the call returned reaches the owner's sockets
 * (so it was delivered live) and never the victim's.
 */
async function expectSocketsEnded(
  ending: Ending,
  world: World,
  endingNode: TestServer,
  socketNodes: TestServer[],
  bystanders: Socket[],
): Promise<void> {
  const victim = await newVictim(endingNode, world.owner, 'victim');
  const sockets = await Promise.all(socketNodes.map((node) => openSocket(node, victim.token)));
  await sendText(endingNode, world.owner.accessToken, victim.dialogId, 'before the end');
  await Promise.all(sockets.map((socket) => socket.next(carries('before the end'))));
  const closes = sockets.map(closeOf);
  const endSession = await ending.prepare(endingNode, world, victim);

  const started = performance.now();
  await endSession();
  await sendText(endingNode, world.owner.accessToken, victim.dialogId, 'after the end');

  for (const { code, at } of await Promise.all(closes)) {
    expect(code).toBe(UNAUTHORIZED);
    expect(at - started).toBeLessThan(CLOSE_BOUND_MS);
  }
  await Promise.all(bystanders.map((socket) => socket.next(carries('after the end'))));
  // A socket's last frame is its close: what it did not receive by then, it never will.
  for (const socket of sockets) expect(socket.frames.some(carries('after the end'))).toBe(false);
  for (const socket of bystanders) expect(socket.ws.readyState).toBe(socket.ws.OPEN);
}

describeEachDialect('ended sessions close their sockets on one node', (dialect) => {
  let server: TestServer;
  let world: World;
  let bystander: Socket;

  beforeAll(async () => {
    const smtp = await startSmtpSink();
    server = await startTestServer({ dialect, env: { PARLEY_SMTP_URL: smtp.url } });
    world = { owner: await newTenantOwner(server, 'Ended Sessions'), smtp };
    bystander = await openSocket(server, world.owner.accessToken);
  });

  afterAll(async () => {
    bystander.ws.close();
    await server.close();
    await world.smtp.close();
  });

  for (const ending of endings) {
    it(`when ${ending.cause}, the session's sockets close with 4001 at once and get nothing sent after`, async () => {
      await expectSocketsEnded(ending, world, server, [server, server], [bystander]);
    });
  }

  it('a custom role edit keeps sockets open, and one that takes away reading closes them (4003) before the next delivery', async () => {
    const role = (permissions: string[]) =>
      must(204, server.request('/v1/roles/reader', json({ permissions }, world.owner.accessToken, 'PUT')));
    await role(['dialogs.read', 'profile.read']);
    const victim = await newVictim(server, world.owner, 'reader', ['reader']);
    const socket = await openSocket(server, victim.token);
    const closed = closeOf(socket);

    await role(['dialogs.read', 'profile.read', 'profile.update']);
    await sendText(server, world.owner.accessToken, victim.dialogId, 'still a reader');
    await socket.next(carries('still a reader'));

    await role(['profile.read']);
    await sendText(server, world.owner.accessToken, victim.dialogId, 'no longer a reader');
    expect((await closed).code).toBe(FORBIDDEN);
    await bystander.next(carries('no longer a reader'));
    expect(socket.frames.some(carries('no longer a reader'))).toBe(false);
  });
});

describePostgres('ended sessions close their sockets on every node (PostgreSQL + Redis)', () => {
  let nodes: TwoNodes;
  let world: World;
  let bystanders: Socket[];

  beforeAll(async () => {
    const smtp = await startSmtpSink();
    nodes = await startTwoNodes({ env: { PARLEY_SMTP_URL: smtp.url } });
    world = { owner: await newTenantOwner(nodes.nodeA, 'Ended Across Nodes'), smtp };
    bystanders = await Promise.all(
      [nodes.nodeA, nodes.nodeB].map((node) => openSocket(node, world.owner.accessToken)),
    );
  });

  afterAll(async () => {
    for (const socket of bystanders) socket.ws.close();
    await nodes.close();
    await world.smtp.close();
  });

  describe.each(endings)('when $cause', (ending) => {
    it('on node A, the sockets on node A and node B close with 4001 at once and get nothing sent after', async () => {
      await expectSocketsEnded(ending, world, nodes.nodeA, [nodes.nodeA, nodes.nodeB], bystanders);
    });
  });
});
