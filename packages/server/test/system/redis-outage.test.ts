import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';

const parleyBin = path.resolve(import.meta.dirname, '../../bin/parley.js');

/** A port nothing listens on: Redis "down". */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

it('starts, reports not ready, and still shuts down cleanly while the configured Redis is down', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-redis-down-'));
  const child = spawn(process.execPath, [parleyBin, 'start'], {
    env: {
      ...process.env,
      PARLEY_DATA_DIR: dataDir,
      PARLEY_PORT: '0',
      PARLEY_HOST: '127.0.0.1',
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
      PARLEY_SHUTDOWN_GRACE_MS: '2000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listening = new Promise<string>((resolve) => {
    // The banner comes on stderr, the JSON logs on stdout.
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /Parley is listening on (https:\/\/[^ ]+)/.exec(output)?.[1];
      if (url) resolve(url);
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
  });
  await listening;
  // Stays up for a while with Redis refusing connections (an unhandled rejection would kill it).
  await new Promise((resolve) => setTimeout(resolve, 3000));
  expect(child.exitCode).toBeNull();
  child.kill('SIGTERM');
  const [code] = (await once(child, 'close')) as [number | null];
  expect(code).toBe(0);
  expect(output).toContain('"msg":"shutdown complete"');
}, 30_000);
