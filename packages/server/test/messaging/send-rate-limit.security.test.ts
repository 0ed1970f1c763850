/**
 * Attack: one signed-in user fires hundreds of large messages at once (over REST, in parallel, and over the
 * realtime channel), hoping the work each one causes — sealing, search tokens for every word and its
 * beginnings, term rows — keeps the node busy for everyone. Sends and edits spend per-user tokens by size
 * (1 plus 1 per 4 KiB of text; here the defaults: 10 a second, 40 at once): past them the user gets
 * 429 `rate_limited` with `Retry-After`, nothing is stored, and other users are unaffected.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newMember, newTenantOwner, type SignedIn } from '../support/identity-fixtures.ts';
import { Socket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

describeEachDialect('per-user send limit', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let bob: { userId: string; token: string };
  let carol: { userId: string; token: string };
  let dialogId: string;
  const clock = { time: Date.now(), now: () => clock.time };

  beforeAll(async () => {
    server = await startTestServer({
      dialect,
      clock,
      // The documented defaults (the test harness raises them for every other suite).
      env: { PARLEY_SEND_RATE_PER_SECOND: '10', PARLEY_SEND_BURST: '40' },
    });
    owner = await newTenantOwner(server, 'Rate Clinic');
    bob = await newMember(server, owner, 'bob@rate.example');
    carol = await newMember(server, owner, 'carol@rate.example');
    const created = await server.request(
      '/v1/dialogs',
      json({ type: 'group', name: 'Rates', memberIds: [bob.userId, carol.userId] }, owner.accessToken),
    );
    dialogId = created.json<{ id: string }>().id;
  });

  afterAll(async () => {
    await server.close();
  });

  const send = (token: string, clientId: string, body: string) =>
    server.request(`/v1/dialogs/${dialogId}/messages`, json({ clientId, body }, token));
  const stored = async () =>
    (await server.request(`/v1/dialogs/${dialogId}/messages?limit=200`, bearer(owner.accessToken))).json<{
      messages: { clientId?: string; body: string | null }[];
    }>().messages.length;

  it('attack: 60 large messages at once — those past the budget get 429 with Retry-After and are not stored; others send on', async () => {
    clock.time += 60_000; // a full bucket
    const before = await stored();
    const large = 'word '.repeat(3_270); // 16,350 bytes: 1 + 3 tokens
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, index) => send(bob.token, `big-${index}`, `${index} ${large}`)),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(50);
    const refused = answers.find((answer) => answer.status === 429);
    expect(refused?.json<{ error: { code: string } }>().error.code).toBe('rate_limited');
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(await stored()).toBe(before + 10);
    // Carol's budget is her own.
    expect((await send(carol.token, 'carol-1', 'still here')).status).toBe(201);
    // Tokens come back with time: 4 seconds buy one more large message.
    expect((await send(bob.token, 'big-again-0', large)).status).toBe(429);
    clock.time += 4_000;
    expect((await send(bob.token, 'big-again-1', large)).status).toBe(201);
  });

  it('lets a burst of 40 short messages through and refuses the 41st; edits spend the same budget', async () => {
    clock.time += 60_000;
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, index) => send(bob.token, `short-${index}`, `hello ${index}`)),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array<number>(40).fill(201));
    expect((await send(bob.token, 'short-40', 'one too many')).status).toBe(429);
    const first = answers[0]?.json<{ id: string }>().id ?? '';
    const edit = await server.request(
      `/v1/dialogs/${dialogId}/messages/${first}`,
      json({ body: 'edited' }, bob.token, 'PATCH'),
    );
    expect(edit.status).toBe(429);
    clock.time += 100; // one token back
    expect(
      (
        await server.request(
          `/v1/dialogs/${dialogId}/messages/${first}`,
          json({ body: 'edited' }, bob.token, 'PATCH'),
        )
      ).status,
    ).toBe(200);
  });

  it('answers a send over the realtime channel past the budget with a rate_limited error frame naming it', async () => {
    clock.time += 60_000;
    const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
    await once(ws, 'open');
    const socket = new Socket(ws);
    socket.send({ type: 'auth', token: bob.token });
    await socket.next((frame) => frame.type === 'ready');
    for (let index = 0; index < 41; index++)
      socket.send({ type: 'message.send', id: `ws-${index}`, dialogId, body: `frame ${index}` });
    const answers = await Promise.all(
      Array.from({ length: 41 }, (_, index) =>
        socket.next(
          (frame) => (frame.type === 'ack' || frame.type === 'error') && frame.id === `ws-${index}`,
        ),
      ),
    );
    expect(answers.filter((frame) => frame.type === 'ack')).toHaveLength(40);
    expect(answers.at(-1)).toMatchObject({ type: 'error', id: 'ws-40', code: 'rate_limited' });
    ws.close();
    await once(ws, 'close');
  });
});
