import { describe, expect, it } from 'vitest';
import { SessionSockets } from '../../src/realtime/session-sockets.ts';

/** A socket that records what the registry asked of it. */
function recorder() {
  const calls: string[] = [];
  return {
    calls,
    socket: {
      end: () => {
        calls.push('end');
      },
      recheck: () => {
        calls.push('recheck');
      },
    },
  };
}

describe('the registry of sessions’ sockets', () => {
  it('ends exactly the sockets of the ended sessions, every socket of each', () => {
    const registry = new SessionSockets();
    const [first, second, other] = [recorder(), recorder(), recorder()];
    registry.add({ tenantId: 't1', sessionId: 's1' }, first.socket);
    registry.add({ tenantId: 't1', sessionId: 's1' }, second.socket);
    registry.add({ tenantId: 't1', sessionId: 's2' }, other.socket);
    registry.apply({ sessionIds: ['s1'], effect: 'ended' });
    expect([first.calls, second.calls, other.calls]).toEqual([['end'], ['end'], []]);
  });

  it("makes a tenant's sockets (and only theirs) re-check after a permission change", () => {
    const registry = new SessionSockets();
    const [inTenant, elsewhere] = [recorder(), recorder()];
    registry.add({ tenantId: 't1', sessionId: 's1' }, inTenant.socket);
    registry.add({ tenantId: 't2', sessionId: 's2' }, elsewhere.socket);
    registry.apply({ tenantId: 't1', effect: 'changed' });
    expect([inTenant.calls, elsewhere.calls]).toEqual([['recheck'], []]);
    registry.apply({ everyone: true, effect: 'changed' });
    expect([inTenant.calls, elsewhere.calls]).toEqual([['recheck', 'recheck'], ['recheck']]);
  });

  it('leaves sockets alone when a refresh replaced the token, and forgets a socket once told', () => {
    const registry = new SessionSockets();
    const socket = recorder();
    const forget = registry.add({ tenantId: 't1', sessionId: 's1' }, socket.socket);
    registry.apply({ sessionIds: ['s1'], effect: 'replaced' });
    expect(socket.calls).toEqual([]);
    forget();
    registry.apply({ sessionIds: ['s1'], tenantId: 't1', effect: 'ended' });
    expect(socket.calls).toEqual([]);
    expect(registry.size).toBe(0);
  });
});
