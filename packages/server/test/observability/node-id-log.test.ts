import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { startTestServer } from '../support/start-server.ts';

/** Every log line names the node that wrote it, so the lines of several nodes can be told apart. */
describe('node id in log lines', () => {
  it('puts PARLEY_NODE_ID in every line: start-up, requests, errors and shutdown', async () => {
    const server = await startTestServer({ env: { PARLEY_NODE_ID: 'eu-1.node_7' } });
    await server.request('/livez');
    await server.request('/v1/me'); // 401
    await server.app.shutdown();
    await server.database.drop();
    const entries = server.logs.entries();
    expect(entries.map((entry) => entry.msg)).toEqual(
      expect.arrayContaining(['incoming request', 'request completed', 'shutdown complete']),
    );
    expect(entries.filter((entry) => entry.nodeId !== 'eu-1.node_7')).toEqual([]);
    expect(server.app.nodeId).toBe('eu-1.node_7');
  });

  it('generates a node id at start when none is set, different for each process start', async () => {
    const first = await startTestServer();
    const second = await startTestServer();
    try {
      await first.request('/livez');
      expect(first.app.nodeId).toMatch(/^[A-Za-z0-9.-]+-[0-9a-f]{6}$/);
      expect(second.app.nodeId).not.toBe(first.app.nodeId);
      const entries = first.logs.entries();
      expect(entries.length).toBeGreaterThan(0);
      expect(entries.filter((entry) => entry.nodeId !== first.app.nodeId)).toEqual([]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('refuses a node id that could forge or bloat a log line', () => {
    for (const bad of ['a b', 'x\ny', 'a'.repeat(65), '{"x":1}']) {
      expect(() => loadConfig({ PARLEY_NODE_ID: bad }), bad).toThrow(ConfigError);
    }
  });
});
