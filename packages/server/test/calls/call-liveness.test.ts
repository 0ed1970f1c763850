import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCallService } from '../../src/calls/call-service.ts';
import { createCallSweeper } from '../../src/calls/call-sweeper.ts';
import { systemClock } from '../../src/clock.ts';
import { messagingLimitsIn } from '../../src/tenancy/tenant-settings-service.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn, signIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * A node that dies never says goodbye for its connections. Its users must not stay "in a call" (and so busy)
 * for ever: the next call start checks which of their devices are still alive.
 */
describeEachDialect('calls whose devices died with their node', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let bob: { userId: string; token: string };

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Crash Clinic');
    const created = await server.request(
      '/v1/users',
      json(
        {
          displayName: 'Bob',
          email: 'bob@crash.example',
          password: 'plum tree under the winter moon',
          roles: ['member'],
        },
        owner.accessToken,
      ),
    );
    bob = {
      userId: created.json<{ userId: string }>().userId,
      token: (
        await signIn(
          server,
          owner.tenantId,
          'bob@crash.example',
          'plum tree under the winter moon',
          'profile chat calls',
        )
      ).accessToken,
    };
    await server.request(
      '/v1/dialogs',
      json({ type: 'private', memberIds: [bob.userId] }, owner.accessToken),
    );
  });

  afterAll(async () => {
    await server.close();
  });

  it('ends a call whose devices are gone when one of its users starts a new call', async () => {
    const { services, storage } = server.app;
    let alive = new Set(['owner-device', 'bob-device']);
    const calls = createCallService({
      storage,
      clock: systemClock,
      fanout: services.fanout,
      audit: services.audit,
      counter: services.counter,
      liveDevices: () => Promise.resolve(alive),
      ringTimeoutMs: 60_000,
      limits: messagingLimitsIn,
    });
    const ownerActor = { tenantId: owner.tenantId, userId: owner.userId, deviceId: 'owner-device' };
    const bobActor = { tenantId: owner.tenantId, userId: bob.userId, deviceId: 'bob-device' };
    const first = await calls.start(ownerActor, { userId: bob.userId }, 'audio');
    await calls.accept(bobActor, first.callId);
    // While both devices live, a second call is refused: the caller is in a call.
    await expect(calls.start(ownerActor, { userId: bob.userId }, 'audio')).rejects.toMatchObject({
      code: 'conflict',
    });
    // Their node dies: no goodbye, the devices just stop being alive.
    alive = new Set(['owner-phone']);
    const second = await calls.start(
      { ...ownerActor, deviceId: 'owner-phone' },
      { userId: bob.userId },
      'video',
    );
    const history = (await server.request('/v1/calls', bearer(bob.token))).json<{
      calls: { id: string; state: string; outcome: string | null }[];
    }>();
    expect(history.calls.find((call) => call.id === first.callId)).toMatchObject({
      state: 'ended',
      outcome: 'completed',
    });
    expect(history.calls.find((call) => call.id === second.callId)).toMatchObject({ state: 'ringing' });
    calls.close();
  });

  it('ends a call left ringing by a node that restarted, as missed, once the ring timeout has passed', async () => {
    const { services, storage } = server.app;
    let skew = 0;
    const clock = { now: () => Date.now() + skew };
    const deps = {
      storage,
      clock,
      fanout: services.fanout,
      audit: services.audit,
      counter: services.counter,
      liveDevices: () => Promise.resolve(new Set(['owner-desk'])),
      ringTimeoutMs: 60_000,
      limits: messagingLimitsIn,
    };
    const before = createCallService(deps);
    const { callId } = await before.start(
      { tenantId: owner.tenantId, userId: owner.userId, deviceId: 'owner-desk' },
      { userId: bob.userId },
      'audio',
    );
    before.close(); // the node restarts: its ring timer is gone
    const after = createCallService(deps);
    const sweeper = createCallSweeper({ storage, clock, calls: after, ringTimeoutMs: 60_000 });
    expect(await sweeper.sweepStaleRinging()).toBe(0); // still within the ring timeout
    skew = 61_000;
    expect(await sweeper.sweepStaleRinging()).toBe(1);
    const history = (await server.request('/v1/calls', bearer(bob.token))).json<{
      calls: { id: string; state: string; outcome: string | null }[];
    }>();
    expect(history.calls.find((call) => call.id === callId)).toMatchObject({
      state: 'ended',
      outcome: 'missed',
    });
    after.close();
  });
});
