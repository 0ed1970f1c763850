import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { probeRoutes } from '../support/probe-routes.ts';
import { startTestServer } from '../support/start-server.ts';

const parleyBin = path.resolve(import.meta.dirname, '../../bin/parley.js');

describe('graceful shutdown', () => {
  it('lets an in-flight request finish, refuses new connections, then closes the database', async () => {
    const { routes, control } = probeRoutes();
    const server = await startTestServer({ extraRoutes: routes });
    const inFlight = server.request('/test/slow');
    await control.slowStarted;
    const shutdown = server.app.shutdown();
    // While draining, new connections are refused...
    const port = Number(new URL(server.url).port);
    const refused = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        resolve(error.code ?? 'error');
      });
    });
    expect(refused).toBe('ECONNREFUSED');
    // ...and the request that was already running still completes.
    control.releaseSlow();
    const released = performance.now();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ finished: true });
    await shutdown;
    expect(performance.now() - released).toBeLessThan(2000);
    await expect(server.app.storage.ping()).rejects.toThrow();
    await server.database.drop();
  });

  it('closes connections still busy when the grace period ends', async () => {
    const { routes, control } = probeRoutes();
    const server = await startTestServer({ extraRoutes: routes, env: { PARLEY_SHUTDOWN_GRACE_MS: '200' } });
    const inFlight = server.request('/test/slow').then(
      () => 'answered',
      () => 'cut',
    );
    await control.slowStarted;
    await server.app.shutdown();
    expect(await inFlight).toBe('cut');
    control.releaseSlow();
    await server.database.drop();
  });

  it('exits 0 on SIGTERM', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-sigterm-'));
    const child = spawn(process.execPath, [parleyBin, 'start'], {
      env: { ...process.env, PARLEY_DATA_DIR: dataDir, PARLEY_PORT: '0', PARLEY_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let signalled = 0;
    // The banner comes on stderr, the JSON logs on stdout.
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString();
      // Twice: a repeated SIGTERM during the drain must not kill the process uncleanly.
      if (signalled === 0 && output.includes('Parley is listening on')) {
        signalled += 1;
        child.kill('SIGTERM');
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    expect(output).toMatch(/Parley is listening on https:\/\/127\.0\.0\.1:\d+ /);
    expect(output).toContain('npx parley tenant create --name');
    expect(output).toContain('"msg":"shutdown complete"');
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  }, 60_000);
});
