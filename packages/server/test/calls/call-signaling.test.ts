import { once } from 'node:events';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { type Frame, Socket } from '../support/realtime-socket.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

interface User {
  userId: string;
  email: string;
  token: string;
}
interface Device {
  socket: Socket;
  deviceId: string;
}

describeEachDialect('call signaling over the realtime channel', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  const users: Record<string, User> = {};
  const password = 'plum tree under the winter moon';
  let request = 0;

  beforeAll(async () => {
    server = await startTestServer({ dialect, env: { PARLEY_CALL_RING_TIMEOUT_MS: '1500' } });
    owner = await newTenantOwner(server, 'Call Clinic');
    for (const name of ['alice', 'bob', 'carol', 'dave']) {
      const email = `${name}@call.example`;
      const created = await server.request(
        '/v1/users',
        json({ displayName: name, email, password, roles: ['member'] }, owner.accessToken),
      );
      users[name] = {
        userId: created.json<{ userId: string }>().userId,
        email,
        token: (await signIn(server, owner.tenantId, email, password, 'profile chat calls')).accessToken,
      };
    }
    // Alice, Bob and Carol share a group; Dave shares nothing with Alice.
    const group = await server.request(
      '/v1/dialogs',
      json(
        { type: 'group', name: 'Team', memberIds: [user('bob').userId, user('carol').userId] },
        user('alice').token,
      ),
    );
    expect(group.status).toBe(201);
  });

  afterAll(async () => {
    await server.close();
  });

  function user(name: string): User {
    const found = users[name];
    if (!found) throw new Error(`no user ${name}`);
    return found;
  }

  async function device(name: string, token = user(name).token): Promise<Device> {
    const ws = new WebSocket(`${server.url.replace('https', 'wss')}/v1/realtime`, { ca: server.ca });
    await once(ws, 'open');
    const socket = new Socket(ws);
    socket.send({ type: 'auth', token });
    const ready = await socket.next((frame) => frame.type === 'ready');
    return { socket, deviceId: ready.deviceId as string };
  }

  /** Sends a request frame and waits for its answer: an error frame with its id, or what `answer` matches. */
  async function ask(from: Device, frame: Record<string, unknown>, answer?: (frame: Frame) => boolean) {
    const id = `r-${(request += 1)}`;
    from.socket.send({ ...frame, id });
    return from.socket.next(
      (seen) =>
        (['error', 'call.ack', 'call.created'].includes(seen.type) && seen.id === id) ||
        (answer?.(seen) ?? false),
    );
  }

  async function startCall(from: Device, to: Record<string, string>, media = 'video'): Promise<string> {
    const created = await ask(from, { type: 'call.start', to, media });
    expect(created.type, JSON.stringify(created)).toBe('call.created');
    return created.callId as string;
  }

  const ended = (socket: Socket, callId: string) =>
    socket.next((frame) => frame.type === 'call.ended' && frame.callId === callId);

  it('rings every device, lets one accept, relays SDP and ICE to that device only, and records the call', async () => {
    const alice = await device('alice');
    const bobPhone = await device('bob');
    const bobLaptop = await device('bob');
    const callId = await startCall(alice, { userId: user('bob').userId });
    for (const bob of [bobPhone, bobLaptop])
      expect(await bob.socket.next((frame) => frame.type === 'call.incoming')).toMatchObject({
        callId,
        callerId: user('alice').userId,
        media: 'video',
      });
    await ask(bobPhone, { type: 'call.accept', callId });
    // The laptop learns Bob joined on another device: it stops ringing.
    const state = await bobLaptop.socket.next(
      (frame) => frame.type === 'call.state' && frame.state === 'active',
    );
    expect(state.participants).toContainEqual({
      userId: user('bob').userId,
      state: 'joined',
      deviceId: bobPhone.deviceId,
    });
    await alice.socket.next((frame) => frame.type === 'call.state' && frame.state === 'active');

    alice.socket.send({
      type: 'call.signal',
      callId,
      toDeviceId: bobPhone.deviceId,
      signal: { type: 'offer', sdp: 'v=0 offer' },
    });
    expect(await bobPhone.socket.next((frame) => frame.type === 'call.signal')).toMatchObject({
      fromUserId: user('alice').userId,
      fromDeviceId: alice.deviceId,
      signal: { type: 'offer', sdp: 'v=0 offer' },
    });
    bobPhone.socket.send({
      type: 'call.signal',
      callId,
      toDeviceId: alice.deviceId,
      signal: { type: 'answer', sdp: 'v=0 answer' },
    });
    const candidate = {
      candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host',
      sdpMid: '0',
      sdpMLineIndex: 0,
    };
    bobPhone.socket.send({
      type: 'call.signal',
      callId,
      toDeviceId: alice.deviceId,
      signal: { type: 'candidate', candidate },
    });
    await alice.socket.next(
      (frame) => frame.type === 'call.signal' && (frame.signal as { type: string }).type === 'candidate',
    );
    expect(
      alice.socket.frames.filter((frame) => frame.type === 'call.signal').map((frame) => frame.signal),
    ).toEqual([
      { type: 'answer', sdp: 'v=0 answer' },
      { type: 'candidate', candidate },
    ]);
    // A renegotiation (video off) or ICE restart is just another offer.
    alice.socket.send({
      type: 'call.signal',
      callId,
      toDeviceId: bobPhone.deviceId,
      signal: { type: 'offer', sdp: 'v=0 restart' },
    });
    await bobPhone.socket.next(
      (frame) => frame.type === 'call.signal' && (frame.signal as { sdp?: string }).sdp === 'v=0 restart',
    );
    // The laptop, which did not join, saw no signaling at all.
    expect(bobLaptop.socket.frames.filter((frame) => frame.type === 'call.signal')).toEqual([]);

    await ask(alice, { type: 'call.hangup', callId });
    expect(await ended(bobPhone.socket, callId)).toMatchObject({ outcome: 'completed' });
    const history = (await server.request('/v1/calls', bearer(user('bob').token))).json<{
      calls: {
        id: string;
        outcome: string;
        media: string;
        answeredAt: string | null;
        participants: { userId: string; state: string }[];
      }[];
    }>();
    const record = history.calls.find((call) => call.id === callId);
    expect(record).toMatchObject({ outcome: 'completed', media: 'video', answeredAt: expect.any(String) });
    expect(record?.participants.map((entry) => entry.state)).toEqual(['left', 'left']);
    const audit = await server.request(`/v1/audit?action=call.*`, bearer(owner.accessToken));
    expect(audit.text).toContain('call.started');
    expect(audit.text).toContain('call.ended');
    for (const each of [alice, bobPhone, bobLaptop]) each.socket.ws.close();
  });

  it('ends as rejected, busy, missed after the ring timeout, or cancelled when the caller goes away', async () => {
    const alice = await device('alice');
    const bob = await device('bob');
    const carol = await device('carol');
    const rejected = await startCall(alice, { userId: user('bob').userId }, 'audio');
    await bob.socket.next((frame) => frame.type === 'call.incoming' && frame.callId === rejected);
    await ask(bob, { type: 'call.reject', callId: rejected });
    expect(await ended(alice.socket, rejected)).toMatchObject({ outcome: 'rejected' });

    // Bob is in a call with Carol: Alice's call to him is busy at once.
    const busyCall = await startCall(carol, { userId: user('bob').userId });
    await bob.socket.next((frame) => frame.type === 'call.incoming' && frame.callId === busyCall);
    await ask(bob, { type: 'call.accept', callId: busyCall });
    await carol.socket.next(
      (frame) => frame.type === 'call.state' && frame.callId === busyCall && frame.state === 'active',
    );
    const busy = await startCall(alice, { userId: user('bob').userId });
    expect(await ended(alice.socket, busy)).toMatchObject({ outcome: 'busy' });
    // Started and ended in one transaction: both entries are in the audit log, in that order.
    const busyAudit = await server.request(`/v1/audit?targetId=${busy}&order=asc`, bearer(owner.accessToken));
    expect(
      busyAudit
        .json<{ entries: { action: string; details: unknown }[] }>()
        .entries.map((entry) => entry.action),
    ).toEqual(['call.started', 'call.ended']);
    await ask(carol, { type: 'call.hangup', callId: busyCall });
    await ended(bob.socket, busyCall);

    const missed = await startCall(alice, { userId: user('bob').userId });
    expect(await ended(alice.socket, missed)).toMatchObject({ outcome: 'missed' });

    const cancelled = await startCall(alice, { userId: user('bob').userId });
    await bob.socket.next((frame) => frame.type === 'call.incoming' && frame.callId === cancelled);
    alice.socket.ws.close();
    expect(await ended(bob.socket, cancelled)).toMatchObject({ outcome: 'cancelled' });
    bob.socket.ws.close();
    carol.socket.ws.close();
  });

  it('lets only one device accept when two accept at once', async () => {
    const alice = await device('alice');
    const phone = await device('bob');
    const laptop = await device('bob');
    const callId = await startCall(alice, { userId: user('bob').userId });
    await phone.socket.next((frame) => frame.type === 'call.incoming');
    await laptop.socket.next((frame) => frame.type === 'call.incoming');
    const answers = await Promise.all([
      ask(
        phone,
        { type: 'call.accept', callId },
        (frame) => frame.type === 'call.state' && frame.state === 'active',
      ),
      ask(
        laptop,
        { type: 'call.accept', callId },
        (frame) => frame.type === 'call.state' && frame.state === 'active',
      ),
    ]);
    await settleBoth(phone, laptop);
    const errors = [phone, laptop].flatMap((each) =>
      each.socket.frames.filter((frame) => frame.type === 'error'),
    );
    expect(answers).toHaveLength(2);
    expect(errors.map((frame) => frame.code)).toEqual(['conflict']);
    await ask(alice, { type: 'call.hangup', callId });
    for (const each of [alice, phone, laptop]) each.socket.ws.close();
  });

  async function settleBoth(...devices: Device[]) {
    for (const each of devices) {
      const pongs = each.socket.frames.filter((frame) => frame.type === 'pong').length;
      each.socket.send({ type: 'ping' });
      await each.socket.next(
        () => each.socket.frames.filter((frame) => frame.type === 'pong').length > pongs,
      );
    }
  }

  it('runs a group call as a mesh: dialog members ring, join and leave', async () => {
    const alice = await device('alice');
    const bob = await device('bob');
    const carol = await device('carol');
    const dialogs = (await server.request('/v1/dialogs', bearer(user('alice').token))).json<{
      dialogs: { id: string; name: string | null }[];
    }>();
    const team = dialogs.dialogs.find((entry) => entry.name === 'Team');
    const callId = await startCall(alice, { dialogId: team?.id ?? '' });
    for (const each of [bob, carol])
      await each.socket.next((frame) => frame.type === 'call.incoming' && frame.callId === callId);
    await ask(bob, { type: 'call.accept', callId });
    await ask(carol, { type: 'call.accept', callId });
    const full = await alice.socket.next(
      (frame) =>
        frame.type === 'call.state' &&
        (frame.participants as { state: string }[]).filter((entry) => entry.state === 'joined').length === 3,
    );
    expect(
      (full.participants as { deviceId: string | null }[]).map((entry) => entry.deviceId).sort(),
    ).toEqual([alice.deviceId, bob.deviceId, carol.deviceId].sort());
    // Carol (the newcomer) offers to each joined device; each offer reaches only its device.
    for (const target of [alice, bob])
      carol.socket.send({
        type: 'call.signal',
        callId,
        toDeviceId: target.deviceId,
        signal: { type: 'offer', sdp: `to ${target.deviceId}` },
      });
    for (const target of [alice, bob])
      expect(await target.socket.next((frame) => frame.type === 'call.signal')).toMatchObject({
        signal: { sdp: `to ${target.deviceId}` },
      });
    await ask(bob, { type: 'call.hangup', callId });
    const afterLeave = await alice.socket.next(
      (frame) =>
        frame.type === 'call.state' &&
        (frame.participants as { state: string }[]).some((entry) => entry.state === 'left'),
    );
    expect(afterLeave.state).toBe('active');
    // Bob's device left: nothing is relayed to it any more.
    carol.socket.send({
      type: 'call.signal',
      callId,
      toDeviceId: bob.deviceId,
      signal: { type: 'offer', sdp: 'after leaving' },
    });
    expect(await carol.socket.next((frame) => frame.type === 'error')).toMatchObject({ code: 'not_found' });
    await ask(carol, { type: 'call.hangup', callId });
    expect(await ended(alice.socket, callId)).toMatchObject({ outcome: 'completed' });
    const dialogCalls = await server.request(
      `/v1/dialogs/${team?.id ?? ''}/calls`,
      bearer(user('carol').token),
    );
    expect(dialogCalls.json<{ calls: { id: string }[] }>().calls.map((call) => call.id)).toContain(callId);
    const stranger = await server.request(`/v1/dialogs/${team?.id ?? ''}/calls`, bearer(user('dave').token));
    expect(stranger.status).toBe(404);
    for (const each of [alice, bob, carol]) each.socket.ws.close();
  });

  it('refuses calls to strangers, across blocks, without the calls scope, and signals to devices outside the call', async () => {
    const alice = await device('alice');
    const toStranger = await ask(alice, {
      type: 'call.start',
      to: { userId: user('dave').userId },
      media: 'audio',
    });
    expect(toStranger).toMatchObject({ type: 'error', code: 'not_found' });
    // The tenant may let anyone call anyone; then the same call rings.
    await server.request(
      '/v1/tenant/settings',
      json({ messaging: { callPolicy: 'tenant' } }, owner.accessToken, 'PATCH'),
    );
    const dave = await device('dave');
    const open = await startCall(alice, { userId: user('dave').userId }, 'audio');
    await dave.socket.next((frame) => frame.type === 'call.incoming' && frame.callId === open);
    await ask(alice, { type: 'call.hangup', callId: open });
    await ended(dave.socket, open);
    dave.socket.ws.close();
    await server.request(
      '/v1/tenant/settings',
      json({ messaging: { callPolicy: 'shared_dialog' } }, owner.accessToken, 'PATCH'),
    );
    await server.request(`/v1/me/blocks/${user('alice').userId}`, bearer(user('carol').token, 'PUT'));
    const blocked = await ask(alice, {
      type: 'call.start',
      to: { userId: user('carol').userId },
      media: 'audio',
    });
    expect(blocked).toMatchObject({ type: 'error', code: 'blocked' });
    await server.request(`/v1/me/blocks/${user('alice').userId}`, bearer(user('carol').token, 'DELETE'));
    const chatOnly = await signIn(server, owner.tenantId, user('alice').email, password, 'profile chat');
    const limited = await device('alice', chatOnly.accessToken);
    const noScope = await ask(limited, {
      type: 'call.start',
      to: { userId: user('bob').userId },
      media: 'audio',
    });
    expect(noScope).toMatchObject({ type: 'error', code: 'insufficient_scope' });
    const intruder = await device('dave');
    const bob = await device('bob');
    const callId = await startCall(alice, { userId: user('bob').userId });
    await bob.socket.next((frame) => frame.type === 'call.incoming' && frame.callId === callId);
    intruder.socket.send({
      type: 'call.signal',
      callId,
      toDeviceId: alice.deviceId,
      signal: { type: 'offer', sdp: 'x' },
    });
    expect(await intruder.socket.next((frame) => frame.type === 'error')).toMatchObject({
      code: 'not_found',
    });
    const hijack = await ask(intruder, { type: 'call.accept', callId });
    expect(hijack).toMatchObject({ type: 'error', code: 'not_found' });
    const tooLarge = {
      type: 'call.signal',
      callId,
      toDeviceId: alice.deviceId,
      signal: { type: 'offer', sdp: 'v'.repeat(20_001) },
    };
    bob.socket.send(tooLarge);
    expect(await bob.socket.next((frame) => frame.type === 'error')).toMatchObject({ code: 'invalid_frame' });
    await ask(alice, { type: 'call.hangup', callId });
    expect(alice.socket.frames.filter((frame) => frame.type === 'call.signal')).toEqual([]);
    for (const each of [alice, limited, intruder, bob]) each.socket.ws.close();
  });

  it('lets a user join only one of two calls accepted at once on two devices', async () => {
    const alice = await device('alice');
    const carol = await device('carol');
    const phone = await device('bob');
    const laptop = await device('bob');
    const fromAlice = await startCall(alice, { userId: user('bob').userId });
    const fromCarol = await startCall(carol, { userId: user('bob').userId });
    await phone.socket.next((frame) => frame.type === 'call.incoming' && frame.callId === fromCarol);
    const answers = await Promise.all([
      ask(phone, { type: 'call.accept', callId: fromAlice }),
      ask(laptop, { type: 'call.accept', callId: fromCarol }),
    ]);
    expect(answers.map((answer) => answer.type).sort()).toEqual(['call.ack', 'error']);
    expect(answers.find((answer) => answer.type === 'error')).toMatchObject({ code: 'conflict' });
    for (const [caller, callId] of [
      [alice, fromAlice],
      [carol, fromCarol],
    ] as const)
      await ask(caller, { type: 'call.hangup', callId });
    for (const each of [alice, carol, phone, laptop]) each.socket.ws.close();
  });

  it('does not count a public dialog as a shared dialog: joining one does not make you callable', async () => {
    const alice = await device('alice');
    const square = (
      await server.request('/v1/dialogs', json({ type: 'public', name: 'Square' }, user('dave').token))
    ).json<{ id: string }>().id;
    await server.request(`/v1/dialogs/${square}/members/me`, bearer(user('alice').token, 'POST'));
    const toDave = await ask(alice, {
      type: 'call.start',
      to: { userId: user('dave').userId },
      media: 'audio',
    });
    expect(toDave).toMatchObject({ type: 'error', code: 'not_found' });
    alice.socket.ws.close();
  });

  it('keeps blocks, broadcast roles, hidden history and membership on the dialog path too', async () => {
    const alice = await device('alice');
    const carol = await device('carol');
    const dave = await device('dave');
    const create = async (token: string, body: Record<string, unknown>) =>
      (await server.request('/v1/dialogs', json(body, token))).json<{ id: string }>().id;
    // A block on a private dialog: calling the dialog instead of the user is refused the same way.
    const pair = await create(user('alice').token, { type: 'private', memberIds: [user('carol').userId] });
    await server.request(`/v1/me/blocks/${user('alice').userId}`, bearer(user('carol').token, 'PUT'));
    const viaDialog = await ask(alice, { type: 'call.start', to: { dialogId: pair }, media: 'audio' });
    expect(viaDialog).toMatchObject({ type: 'error', code: 'blocked' });
    // In a group, the blocking member is simply not rung.
    const group = await create(user('alice').token, {
      type: 'group',
      name: 'Blocks',
      memberIds: [user('carol').userId, user('dave').userId],
    });
    const groupCall = await startCall(alice, { dialogId: group });
    await dave.socket.next((frame) => frame.type === 'call.incoming' && frame.callId === groupCall);
    const carolRung = await ask(carol, { type: 'call.accept', callId: groupCall });
    expect(carolRung).toMatchObject({ type: 'error', code: 'not_found' });
    expect(carol.socket.frames.filter((frame) => frame.type === 'call.incoming')).toEqual([]);
    await ask(alice, { type: 'call.hangup', callId: groupCall });
    await server.request(`/v1/me/blocks/${user('alice').userId}`, bearer(user('carol').token, 'DELETE'));
    // A plain member of a broadcast dialog cannot ring its owner and admins.
    const broadcast = await create(user('alice').token, {
      type: 'broadcast',
      name: 'News',
      memberIds: [user('dave').userId],
    });
    const fromReader = await ask(dave, { type: 'call.start', to: { dialogId: broadcast }, media: 'audio' });
    expect(fromReader).toMatchObject({ type: 'error', code: 'forbidden' });
    // A member removed while it rings cannot join; a newcomer to a dialog hiding history sees no older calls.
    const hidden = await create(user('alice').token, {
      type: 'group',
      name: 'Hidden',
      hideHistory: true,
      memberIds: [user('dave').userId],
    });
    const earlier = await startCall(alice, { dialogId: hidden });
    await dave.socket.next((frame) => frame.type === 'call.incoming' && frame.callId === earlier);
    await server.request(
      `/v1/dialogs/${hidden}/members/${user('dave').userId}`,
      bearer(user('alice').token, 'DELETE'),
    );
    const removedJoins = await ask(dave, { type: 'call.accept', callId: earlier });
    expect(removedJoins).toMatchObject({ type: 'error', code: 'not_found' });
    await ask(alice, { type: 'call.hangup', callId: earlier });
    await server.request(
      `/v1/dialogs/${hidden}/members`,
      json({ userIds: [user('carol').userId] }, user('alice').token),
    );
    const carolSees = await server.request(`/v1/dialogs/${hidden}/calls`, bearer(user('carol').token));
    expect(carolSees.json<{ calls: unknown[] }>().calls).toEqual([]);
    const aliceSees = await server.request(`/v1/dialogs/${hidden}/calls`, bearer(user('alice').token));
    expect(aliceSees.json<{ calls: { id: string }[] }>().calls.map((call) => call.id)).toEqual([earlier]);
    for (const each of [alice, carol, dave]) each.socket.ws.close();
  });
  it('refuses a start by a caller already in a call, and an accept across a block made while it rang', async () => {
    const bob = await device('bob');
    const carol = await device('carol');
    const alice = await device('alice');
    const first = await startCall(carol, { userId: user('bob').userId });
    await bob.socket.next((frame) => frame.type === 'call.incoming' && frame.callId === first);
    await ask(bob, { type: 'call.accept', callId: first });
    await carol.socket.next(
      (frame) => frame.type === 'call.state' && frame.callId === first && frame.state === 'active',
    );
    // Carol is in a call: a second one, to a user or to a dialog, is refused and rings nobody.
    const toUser = await ask(carol, {
      type: 'call.start',
      to: { userId: user('alice').userId },
      media: 'audio',
    });
    expect(toUser).toMatchObject({ type: 'error', code: 'conflict' });
    const dialogs = (await server.request('/v1/dialogs', bearer(user('carol').token))).json<{
      dialogs: { id: string; name: string | null }[];
    }>();
    const team = dialogs.dialogs.find((entry) => entry.name === 'Team')?.id ?? '';
    const toDialog = await ask(carol, { type: 'call.start', to: { dialogId: team }, media: 'audio' });
    expect(toDialog).toMatchObject({ type: 'error', code: 'conflict' });
    await ask(carol, { type: 'call.hangup', callId: first });
    await ended(bob.socket, first);
    expect(alice.socket.frames.filter((frame) => frame.type === 'call.incoming')).toEqual([]);

    // Bob blocks Carol while her call rings: his accept is refused, and nobody joined.
    const second = await startCall(carol, { userId: user('bob').userId });
    await bob.socket.next((frame) => frame.type === 'call.incoming' && frame.callId === second);
    await server.request(`/v1/me/blocks/${user('carol').userId}`, bearer(user('bob').token, 'PUT'));
    const accepted = await ask(bob, { type: 'call.accept', callId: second });
    expect(accepted).toMatchObject({ type: 'error', code: 'blocked' });
    await server.request(`/v1/me/blocks/${user('carol').userId}`, bearer(user('bob').token, 'DELETE'));
    await ask(carol, { type: 'call.hangup', callId: second });
    expect(await ended(bob.socket, second)).toMatchObject({ outcome: 'cancelled' });
    for (const each of [alice, bob, carol]) each.socket.ws.close();
  });
});
